//! Edge behaviour plugged between config, tokens and the rewriter.
