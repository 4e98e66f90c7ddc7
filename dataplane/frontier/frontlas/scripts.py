"""The repository's Lua scripts: every change that touches several keys runs as one script.

Keys not passed in KEYS are derived from a prefix in ARGV (the frontier hash of an edge's
*previous* frontier is only known inside the script). That is fine on a single Redis and in
cluster mode, where every key carries the same ``{frontlas}`` hash tag and so one slot.

Counts: ``edge_count`` / ``service_count`` in a frontier hash change only on a real state
change (an edge already alive on the same frontier is not counted twice; an edge moving
between frontiers moves its count), and never create a hash that does not exist (upstream's
HINCRBY on a dead frontier re-created its hash without a TTL, one reason dead frontiers
lingered forever). Our frontiers also send their exact counts with every heartbeat, which
repairs any drift after an outage.
"""

from __future__ import annotations

from typing import Final

# Registration and every later heartbeat of a frontier. KEYS: alive key, frontier hash.
# ARGV: token, instance ("" = none), sb addr, eb addr, TTL, edge count, service count
# ("" = leave the counts alone). The alive key holds "<instance>/<connection>": the same
# instance may take over its own key (re-registering after a frontlas restart), anyone else
# is a duplicate (0). A heartbeat re-creates the keys if Redis lost them.
FRONTIER_REFRESH: Final = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
  local inst = ARGV[2]
  if inst == '' or string.sub(cur, 1, string.len(inst) + 1) ~= inst .. '/' then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[5]))
redis.call('HSET', KEYS[2], 'advertised_sb_addr', ARGV[3], 'advertised_eb_addr', ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'edge_count', tonumber(ARGV[6])) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'service_count', tonumber(ARGV[7])) end
redis.call('HSETNX', KEYS[2], 'edge_count', 0)
redis.call('HSETNX', KEYS[2], 'service_count', 0)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return 1
"""

# KEYS: alive key, frontier hash. ARGV: token. Only the connection that holds the key
# removes the frontier (a late disconnect must not remove its own re-registration).
FRONTIER_UNREGISTER: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""

# KEYS: frontier hash. ARGV: edge count, service count. Only an existing hash.
FRONTIER_COUNTS: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'edge_count', tonumber(ARGV[1]), 'service_count', tonumber(ARGV[2]))
  return 1
end
return 0
"""

# KEYS: edge meta, edge alive, frontier hash. ARGV: frontier ID, meta JSON, meta TTL,
# alive TTL, frontier key prefix.
EDGE_ONLINE: Final = """
local counted = false
local old = redis.call('GET', KEYS[1])
if old and redis.call('EXISTS', KEYS[2]) == 1 then
  local ok, value = pcall(cjson.decode, old)
  local was = ok and type(value) == 'table' and value['frontier_id'] or nil
  if was == ARGV[1] then
    counted = true
  elseif was then
    local was_key = ARGV[5] .. tostring(was)
    if redis.call('EXISTS', was_key) == 1 then
      redis.call('HINCRBY', was_key, 'edge_count', -1)
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
redis.call('SET', KEYS[2], 1, 'EX', tonumber(ARGV[4]))
if not counted and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'edge_count', 1)
end
return 1
"""

# KEYS: edge meta, edge alive, frontier hash. ARGV: frontier ID. Only the frontier the edge
# is on takes it offline: after a failover its old frontier's late offline is ignored.
# The meta key stays until its TTL (as upstream), the alive key goes.
EDGE_OFFLINE: Final = """
local old = redis.call('GET', KEYS[1])
if old then
  local ok, value = pcall(cjson.decode, old)
  local was = ok and type(value) == 'table' and value['frontier_id'] or nil
  if was and was ~= ARGV[1] then return 0 end
end
if redis.call('DEL', KEYS[2]) == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'edge_count', -1)
end
return 1
"""

# The Go ``edge_heartbeat``: renew; if Redis lost the edge, re-create it on this frontier
# (so Go frontiers resynchronise too). KEYS: as EDGE_ONLINE. ARGV: as EDGE_ONLINE.
EDGE_HEARTBEAT: Final = """
if redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4])) == 1 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
redis.call('SET', KEYS[2], 1, 'EX', tonumber(ARGV[4]))
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'edge_count', 1)
end
return 0
"""

# KEYS: service hash, service alive, frontier hash. ARGV: frontier ID, record JSON, meta TTL,
# alive TTL. The service hash maps frontier ID -> record: a service ID is allocated per
# frontier, so the same ID may name a service on each of several frontiers.
SERVICE_ONLINE: Final = """
local new = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('SET', KEYS[2], 1, 'EX', tonumber(ARGV[4]))
if new == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'service_count', 1)
end
return new
"""

# KEYS: service hash, service alive, frontier hash. ARGV: frontier ID.
SERVICE_OFFLINE: Final = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'service_count', -1)
end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
end
return removed
"""

# KEYS: service hash, service alive. ARGV: frontier ID, meta TTL, alive TTL.
# Returns 0 when this frontier's record is gone (the caller re-reports it).
SERVICE_HEARTBEAT: Final = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('SET', KEYS[2], 1, 'EX', tonumber(ARGV[3]))
return 1
"""

# The batched heartbeat, one round trip for thousands of IDs. ARGV: prefix, frontier ID,
# alive TTL, edge meta TTL, service meta TTL, number of edge IDs, edge IDs..., service IDs...
# Per edge: one EXPIRE on its alive key, one on its meta key. Returns the missing IDs:
# {edges, services}.
PRESENCE_HEARTBEAT: Final = """
local prefix = ARGV[1]
local fid = ARGV[2]
local alive_ttl = tonumber(ARGV[3])
local edge_ttl = tonumber(ARGV[4])
local service_ttl = tonumber(ARGV[5])
local n_edges = tonumber(ARGV[6])
local missing_edges = {}
local missing_services = {}
for i = 7, 6 + n_edges do
  local id = ARGV[i]
  if redis.call('EXPIRE', prefix .. 'alive:edges:' .. id, alive_ttl) == 1 then
    redis.call('EXPIRE', prefix .. 'edges:' .. id, edge_ttl)
  else
    missing_edges[#missing_edges + 1] = id
  end
end
for i = 7 + n_edges, #ARGV do
  local id = ARGV[i]
  local key = prefix .. 'services:' .. id
  if redis.call('HEXISTS', key, fid) == 1 then
    redis.call('EXPIRE', key, service_ttl)
    redis.call('SET', prefix .. 'alive:services:' .. id, 1, 'EX', alive_ttl)
  else
    missing_services[#missing_services + 1] = id
  end
end
return {missing_edges, missing_services}
"""
