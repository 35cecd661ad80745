-- wrk script of bench/announce.sh: POST /p2p/v1/announce, rotating over real viewers.
--
--   wrk ... -s bench/announce.lua http://127.0.0.1:PORT/p2p/v1/announce -- FILE COLUMN
--
-- FILE has one line per viewer, tab-separated: the viewer's token, then request bodies
-- (JSON, one per column). COLUMN (2 or more) picks the body every request of this run
-- sends. Each request goes to the next viewer of the file, so every viewer announces in
-- turn; each wrk thread starts at a different place in the file. All requests are built
-- once, in init(), so that request() costs wrk next to nothing.

local threads_started = 0

function setup(thread)
    threads_started = threads_started + 1
    thread:set("thread_number", threads_started)
end

local requests = {}
local count = 0
local next_index = 0

function init(args)
    local path, column = args[1], tonumber(args[2] or "2")
    if not path then
        error("announce.lua: no viewer file given (wrk ... -- FILE COLUMN)")
    end
    local headers = {
        ["Host"] = wrk.headers["Host"],
        ["Content-Type"] = "application/json",
    }
    for line in io.lines(path) do
        local fields = {}
        for field in string.gmatch(line, "[^\t]+") do
            fields[#fields + 1] = field
        end
        local token, body = fields[1], fields[column]
        if token and body then
            headers["Authorization"] = "Bearer " .. token
            count = count + 1
            requests[count] = wrk.format("POST", wrk.path, headers, body)
        end
    end
    if count == 0 then
        error("announce.lua: no viewer in " .. path .. " (column " .. column .. ")")
    end
    -- thread_number is set by setup(); spread the threads' starting points over the file.
    local n = thread_number or 1
    next_index = math.floor((n - 1) * count / 7) % count
end

function request()
    next_index = next_index % count + 1
    return requests[next_index]
end
