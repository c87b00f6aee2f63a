-- The differential test's OpenResty side: runs one program (the request body, one operation a
-- line, see program.ts) with ngx.socket.tcp against the replay peer and prints one result line
-- per operation: "OK <hex>", "END", "ERR <err> <hex partial or ->", "NEW", and for receiveany
-- "ANY <n> " followed by the result of receiveany plus its top-up receive. The first line makes
-- the first receiveuntil reader; "back" picks a reader: 0 the newest, 1 the one before, ...

local args = ngx.req.get_uri_args()
local port = tonumber(args.port)
local id = args.id
local timeout = tonumber(args.timeout)
local max_timeouts = tonumber(args.max_timeouts)
local settle = tonumber(args.settle) / 1000

ngx.req.read_body()
local body = ngx.req.get_body_data() or ""

local function tohex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function fromhex(h)
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

local function result(data, err, partial)
  if data ~= nil then
    return "OK " .. tohex(data)
  end
  if err == nil then
    return "END"
  end
  return "ERR " .. err .. " " .. (partial == nil and "-" or tohex(partial))
end

local sock = ngx.socket.tcp()
sock:settimeouts(5000, 5000, timeout)
-- A pool per program: programs run side by side in this worker.
local ok, err = sock:connect("127.0.0.1", port, { pool = id })
if not ok then
  ngx.status = 500
  ngx.say("connect failed: ", err)
  return
end
sock:send(id .. "\n")

local readers = {}
local out = {}
local timeouts = 0
local k = 0
local function new_reader(words)
  return sock:receiveuntil(fromhex(words[2]), { inclusive = words[3] == "1" })
end

local function pick(back)
  return readers[#readers - (back % #readers)]
end

for line in body:gmatch("[^\n]+") do
  local words = {}
  for w in line:gmatch("%S+") do words[#words + 1] = w end
  local op = words[1]
  if op == "reader" then
    readers[1] = new_reader(words)
    goto continue
  end
  if op ~= "keepalive" then
    sock:send(k .. "\n")
  end
  k = k + 1
  local r
  if op == "line" then
    r = result(sock:receive("*l"))
  elseif op == "all" then
    r = result(sock:receive("*a"))
  elseif op == "bytes" then
    r = result(sock:receive(tonumber(words[2])))
  elseif op == "any" then
    local max = tonumber(words[2])
    local data, e, partial = sock:receiveany(max)
    if data == nil then
      r = result(data, e, partial)
    elseif #data < max then
      local more, e2, partial2 = sock:receive(max - #data)
      if more ~= nil then
        r = "ANY " .. #data .. " " .. result(data .. more)
      else
        r = "ANY " .. #data .. " " .. result(nil, e2, data .. (partial2 or ""))
      end
    else
      r = "ANY " .. #data .. " " .. result(data)
    end
  elseif op == "until" then
    local it, e = new_reader(words)
    readers[#readers + 1] = it
    r = it and "NEW" or ("ERR " .. e .. " -")
  elseif op == "read" or op == "chunk" then
    local it = pick(tonumber(words[2]))
    if op == "read" then
      r = result(it())
    else
      r = result(it(tonumber(words[3])))
    end
  elseif op == "keepalive" then
    ngx.sleep(settle)
    local kept, e = sock:setkeepalive()
    local ka = kept and "OK" or ("ERR " .. e)
    local again, e2 = sock:connect("127.0.0.1", port, { pool = id })
    if not again then
      r = "KA " .. ka .. " connect " .. e2
    else
      local n = sock:getreusedtimes()
      if n == 0 then sock:send(id .. "\n") end
      r = "KA " .. ka .. " reused " .. tostring(n)
    end
  elseif op == "busy" then
    ngx.sleep(settle)
    local th = ngx.thread.spawn(function() return result(sock:receive(1)) end)
    local second = result(sock:receive(1))
    local sent, se = sock:send("busy\n")
    local _, first = ngx.thread.wait(th)
    r = "BUSY " .. second .. " | " .. (sent and ("sent " .. sent) or ("ERR " .. se)) .. " | " .. first
  else
    r = "BADOP " .. op
  end
  out[#out + 1] = r
  if r:find(" timeout ", 1, true) then
    timeouts = timeouts + 1
    if timeouts >= max_timeouts then break end
  end
  ::continue::
end
sock:close()
ngx.say(table.concat(out, "\n"))
