"""Lua shared by the scripts that change a conversation's tree.

A conversation's messages form a tree: each message has a parent ("" for a first
message) and children, oldest first. The *active branch* is kept as a list of ids
from the first message to the active leaf, so reading it costs what reading a
linear conversation of the same length costs. The functions below take the keys
of one conversation (``conv``, ``msgs``, ``tree``, ``path``), which share a hash tag.
"""

from __future__ import annotations

# Functions, prepended to the scripts that use them.
TREE = """
local function hmget_all(key, fields)
  -- HMGET in chunks: unpack() has a limit on how many values it returns.
  local out = {}
  for i = 1, #fields, 500 do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + 499, #fields)))
    for _, v in ipairs(part) do out[#out + 1] = v end
  end
  return out
end

local function rpush_all(key, items)
  for i = 1, #items, 500 do
    redis.call('RPUSH', key, unpack(items, i, math.min(i + 499, #items)))
  end
end

local function children(tree, id)
  local raw = redis.call('HGET', tree, 'k:' .. id)
  if not raw then return {} end
  return cjson.decode(raw)
end

-- Make the active branch run from the first message to ``id`` (which exists).
local function path_to(tree, path, id)
  if id == '' then redis.call('DEL', path) return end
  local at = redis.call('LPOS', path, id, 'RANK', -1)
  if at then redis.call('LTRIM', path, 0, at) return end
  local chain = {}
  local cur = id
  while cur and cur ~= '' do
    chain[#chain + 1] = cur
    cur = redis.call('HGET', tree, 'u:' .. cur)
  end
  local ordered = {}
  for i = #chain, 1, -1 do ordered[#ordered + 1] = chain[i] end
  redis.call('DEL', path)
  rpush_all(path, ordered)
end

-- Follow the newest child from the end of the active branch down to a leaf.
local function descend(tree, path, id)
  local leaf = id
  while true do
    local kids = children(tree, leaf)
    if #kids == 0 then return leaf end
    leaf = kids[#kids]
    redis.call('RPUSH', path, leaf)
  end
end

-- Store a message as the newest child of ``parent`` and make it the active leaf.
-- Returns the conversation's message count, -1 (no conversation), -2 (no such
-- parent), -3 (the conversation is full) or -4 (this message is stored already).
local function add_child(conv, msgs, tree, path, json, id, parent, most, ts, title, ttl)
  -- A conversation in the trash (see store/organise.py) takes no new messages.
  if redis.call('EXISTS', conv) == 0 or redis.call('HEXISTS', conv, 'deleted') == 1 then
    return -1
  end
  if redis.call('HEXISTS', msgs, id) == 1 then return -4 end
  local count = tonumber(redis.call('HGET', conv, 'message_count') or '0')
  if count >= tonumber(most) then return -3 end
  if parent == '*' then parent = redis.call('LINDEX', path, -1) or '' end
  if parent ~= '' and redis.call('HEXISTS', msgs, parent) == 0 then return -2 end
  path_to(tree, path, parent)
  local kids = children(tree, parent)
  kids[#kids + 1] = id
  redis.call('HSET', tree, 'k:' .. parent, cjson.encode(kids), 'u:' .. id, parent)
  redis.call('HSET', msgs, id, json)
  redis.call('RPUSH', path, id)
  count = count + 1
  redis.call('HSET', conv, 'message_count', count, 'updated_at', ts, 'active', id)
  if title ~= '' and (redis.call('HGET', conv, 'title') or '') == '' then
    redis.call('HSET', conv, 'title', title)
  end
  local seconds = tonumber(ttl)
  if seconds > 0 then
    for _, key in ipairs({conv, msgs, tree, path}) do redis.call('EXPIRE', key, seconds) end
  end
  return count
end
"""
