"""The repository's Lua scripts: every change that touches several keys runs as one script.

Keys not passed in KEYS are derived from a prefix in ARGV (the index of an edge's
*previous* frontier is only known inside the script). That is fine on a single Redis and in
cluster mode, where every key carries the same ``{frontlas}`` hash tag and so one slot.

**Counts are derived, never kept.** Each frontier has two index sorted sets,
``frontier_edges:{id}`` and ``frontier_services:{id}``: member = edge (service) ID, score =
the millisecond (Redis's clock, ``TIME``) until which that record is alive. Every script
that writes an edge's keys writes its index entry in the same step, with the same clock
reading: the alive key expires at ``now + alive``, the meta key at ``now + edge_meta``, and
the score is the earlier of the two, so an edge is listed (alive key and meta both there,
meta naming the frontier) exactly while its score is not in the past. A frontier's count is
``ZCOUNT index now +inf`` taken when it is read, so it equals the listed set at every moment
a client can look: TTL expiry, heartbeats racing reports, a Redis restarted empty or a
re-registration cannot make it drift (upstream's counters, and our earlier ones that
heartbeats reset, could: a heartbeat's count plus the reports behind it counted edges
twice). A heartbeat renews only what its frontier owns: an edge that moved to another
frontier is left to that one, not stolen back. Expired members are pruned by the
frontier's heartbeats; the index keys themselves expire with their last member.

Services are shared between frontiers (the same ID may live on several, one hash field
each, one alive key for all), so a service is listed on a frontier while *that frontier's*
score for it is current; the reading script filters the hash by it.

Times are absolute (``PXAT``/``PEXPIREAT`` from one ``TIME`` per script), which needs Redis
6.2 or newer.
"""

from __future__ import annotations

from typing import Final

_NOW: Final = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# Extend a key's expiry to `at` (never shorten it: another writer may have set a later one).
_EXTEND: Final = """
local function extend(key, at)
  local left = redis.call('PTTL', key)
  if left == -2 then return end
  if left == -1 or now + left < at then redis.call('PEXPIREAT', key, at) end
end
"""

# The frontier that an edge's meta names (nil if none or unreadable).
_OWNER: Final = """
local function owner(raw)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and type(value['frontier_id']) == 'string' then
    return value['frontier_id']
  end
  return nil
end
"""

# Write an edge as alive on frontier `fid` until now + TTLs, moving it out of the index of
# the frontier it was on. Needs _NOW, _EXTEND and _OWNER.
_PUT_EDGE: Final = """
local function put_edge(meta_key, alive_key, index_key, index_prefix, fid, id, record,
                        meta_ttl, alive_ttl)
  local was = owner(redis.call('GET', meta_key))
  if was and was ~= fid then redis.call('ZREM', index_prefix .. was, id) end
  local meta_at = now + meta_ttl * 1000
  local alive_at = now + alive_ttl * 1000
  local score = math.min(meta_at, alive_at)
  redis.call('SET', meta_key, record, 'PXAT', meta_at)
  redis.call('SET', alive_key, 1, 'PXAT', alive_at)
  redis.call('ZADD', index_key, score, id)
  extend(index_key, score)
end
"""

# Registration and every later heartbeat of a frontier. KEYS: alive key, frontier hash.
# ARGV: token, instance ("" = none), sb addr, eb addr, TTL. The alive key holds
# "<instance>/<connection>": the same instance may take over its own key (re-registering
# after a frontlas restart), anyone else is a duplicate (0). A heartbeat re-creates the keys
# if Redis lost them. The counts are not stored (see the module docstring).
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
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return 1
"""

# KEYS: alive key, frontier hash. ARGV: token. Only the connection that holds the key
# removes the frontier (a late disconnect must not remove its own re-registration). Its
# edges stay (until their TTL) and so do its indexes: the same process re-registering after
# a frontlas restart finds its counts intact.
FRONTIER_UNREGISTER: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""

# KEYS: edge meta, edge alive, own edge index. ARGV: frontier ID, meta JSON, meta TTL,
# alive TTL, edge index prefix, edge ID.
EDGE_ONLINE: Final = (
    _NOW
    + _EXTEND
    + _OWNER
    + _PUT_EDGE
    + """
put_edge(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[1], ARGV[6], ARGV[2],
         tonumber(ARGV[3]), tonumber(ARGV[4]))
return 1
"""
)

# KEYS: edge meta, edge alive, own edge index. ARGV: frontier ID, edge ID. Only the
# frontier the edge is on takes it offline: after a failover its old frontier's late
# offline is ignored (0). The meta key stays until its TTL (as upstream), the alive key goes.
EDGE_OFFLINE: Final = (
    _OWNER
    + """
local was = owner(redis.call('GET', KEYS[1]))
if was and was ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""
)

# The Go ``edge_heartbeat``: renew an edge this frontier owns; re-create one Redis lost
# (returns 0 then), so Go frontiers resynchronise too; leave one another frontier owns now.
# KEYS and ARGV: as EDGE_ONLINE.
EDGE_HEARTBEAT: Final = (
    _NOW
    + _EXTEND
    + _OWNER
    + _PUT_EDGE
    + """
local score = redis.call('ZSCORE', KEYS[3], ARGV[6])
if score and tonumber(score) >= now then
  local meta_at = now + tonumber(ARGV[3]) * 1000
  local alive_at = now + tonumber(ARGV[4]) * 1000
  local until_at = math.min(meta_at, alive_at)
  redis.call('PEXPIREAT', KEYS[1], meta_at)
  redis.call('PEXPIREAT', KEYS[2], alive_at)
  redis.call('ZADD', KEYS[3], until_at, ARGV[6])
  extend(KEYS[3], until_at)
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local was = owner(redis.call('GET', KEYS[1]))
  if was and was ~= ARGV[1] then return 1 end
end
put_edge(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[1], ARGV[6], ARGV[2],
         tonumber(ARGV[3]), tonumber(ARGV[4]))
return 0
"""
)

# KEYS: service hash, service alive, own service index. ARGV: frontier ID, record JSON,
# meta TTL, alive TTL, service ID. The service hash maps frontier ID -> record: a service
# ID is allocated per frontier, so the same ID may name a service on each of several.
# Returns 1 if this frontier's record is new.
SERVICE_ONLINE: Final = (
    _NOW
    + _EXTEND
    + """
local new = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local meta_at = now + tonumber(ARGV[3]) * 1000
local alive_at = now + tonumber(ARGV[4]) * 1000
local score = math.min(meta_at, alive_at)
extend(KEYS[1], meta_at)
if redis.call('EXISTS', KEYS[2]) == 1 then extend(KEYS[2], alive_at)
else redis.call('SET', KEYS[2], 1, 'PXAT', alive_at) end
redis.call('ZADD', KEYS[3], score, ARGV[5])
extend(KEYS[3], score)
return new
"""
)

# KEYS: service hash, service alive, own service index. ARGV: frontier ID, service ID.
SERVICE_OFFLINE: Final = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
end
return removed
"""

# KEYS: service hash, service alive, own service index. ARGV: frontier ID, meta TTL,
# alive TTL, service ID. Returns 0 when this frontier's record is gone (the caller
# re-reports it).
SERVICE_HEARTBEAT: Final = (
    _NOW
    + _EXTEND
    + """
local score = redis.call('ZSCORE', KEYS[3], ARGV[4])
if not score or tonumber(score) < now or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local meta_at = now + tonumber(ARGV[2]) * 1000
local alive_at = now + tonumber(ARGV[3]) * 1000
local until_at = math.min(meta_at, alive_at)
extend(KEYS[1], meta_at)
extend(KEYS[2], alive_at)
redis.call('ZADD', KEYS[3], until_at, ARGV[4])
extend(KEYS[3], until_at)
return 1
"""
)

# The batched heartbeat, one round trip for thousands of IDs. KEYS: own edge index, own
# service index. ARGV: prefix, frontier ID, alive TTL, edge meta TTL, service meta TTL,
# number of edge IDs, edge IDs..., service IDs... Renews what this frontier owns; returns
# the IDs it does not (Redis lost them, or their TTL ran out) for the frontier to report
# again: {edges, services}. An edge alive on another frontier is neither renewed nor
# returned (its new frontier keeps it).
PRESENCE_HEARTBEAT: Final = (
    _NOW
    + _EXTEND
    + _OWNER
    + """
local prefix = ARGV[1]
local fid = ARGV[2]
local alive_at = now + tonumber(ARGV[3]) * 1000
local edge_at = now + tonumber(ARGV[4]) * 1000
local service_at = now + tonumber(ARGV[5]) * 1000
local n_edges = tonumber(ARGV[6])
local edge_until = math.min(alive_at, edge_at)
local service_until = math.min(alive_at, service_at)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
local missing_edges = {}
local missing_services = {}
local renewed_edges = false
for i = 7, 6 + n_edges do
  local id = ARGV[i]
  -- expired members are gone (above), so "updated" means "ours and alive"; an unchanged
  -- score (renewed twice in one millisecond) is told apart by ZSCORE, rarely needed
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', edge_until, id) == 1
      or redis.call('ZSCORE', KEYS[1], id) then
    redis.call('PEXPIREAT', prefix .. 'alive:edges:' .. id, alive_at)
    redis.call('PEXPIREAT', prefix .. 'edges:' .. id, edge_at)
    renewed_edges = true
  else
    local was = nil
    if redis.call('EXISTS', prefix .. 'alive:edges:' .. id) == 1 then
      was = owner(redis.call('GET', prefix .. 'edges:' .. id))
    end
    if not was or was == fid then missing_edges[#missing_edges + 1] = id end
  end
end
if renewed_edges then extend(KEYS[1], edge_until) end
local renewed_services = false
for i = 7 + n_edges, #ARGV do
  local id = ARGV[i]
  local key = prefix .. 'services:' .. id
  if redis.call('ZSCORE', KEYS[2], id) and redis.call('HEXISTS', key, fid) == 1 then
    redis.call('ZADD', KEYS[2], service_until, id)
    extend(key, service_at)
    extend(prefix .. 'alive:services:' .. id, alive_at)
    renewed_services = true
  else
    missing_services[#missing_services + 1] = id
  end
end
if renewed_services then extend(KEYS[2], service_until) end
return {missing_edges, missing_services}
"""
)

# Reading frontiers with their counts, at one instant. KEYS: per frontier, 4 keys: alive
# key, hash, edge index, service index. Returns per frontier {} (not alive) or
# {hash fields (flat), edge count, service count}.
FRONTIERS_READ: Final = (
    _NOW
    + """
local out = {}
for i = 1, #KEYS, 4 do
  local entry = {}
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local fields = redis.call('HGETALL', KEYS[i + 1])
    if #fields > 0 then
      entry = {fields, redis.call('ZCOUNT', KEYS[i + 2], now, '+inf'),
               redis.call('ZCOUNT', KEYS[i + 3], now, '+inf')}
    end
  end
  out[#out + 1] = entry
end
return out
"""
)

# Reading edges, at one instant. KEYS: per edge, its alive key and meta key. ARGV: edge
# index prefix, then the edge IDs in KEYS order. Returns per edge its meta, or false when
# it is not alive. Alive means its owner's index says so (the keys expire at the same
# instant, but Redis judges key expiry by the script's start while the count uses TIME:
# judging both by the index keeps listings and counts equal even within that millisecond).
EDGES_READ: Final = (
    _NOW
    + _OWNER
    + """
local out = {}
for i = 1, #KEYS, 2 do
  local id = ARGV[1 + (i + 1) / 2]
  local raw = redis.call('GET', KEYS[i + 1])
  local alive = false
  if raw and redis.call('EXISTS', KEYS[i]) == 1 then
    local fid = owner(raw)
    if fid then
      local score = redis.call('ZSCORE', ARGV[1] .. fid, id)
      alive = score ~= false and tonumber(score) >= now
    end
  end
  if alive then out[#out + 1] = raw else out[#out + 1] = false end
end
return out
"""
)

# Reading services, at one instant. KEYS: per service, its alive key and hash. ARGV:
# service index prefix, then the service IDs in KEYS order. Returns per service the flat
# {frontier ID, record, ...} of the frontiers it is current on.
SERVICES_READ: Final = (
    _NOW
    + """
local out = {}
for i = 1, #KEYS, 2 do
  local id = ARGV[1 + (i + 1) / 2]
  local current = {}
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local fields = redis.call('HGETALL', KEYS[i + 1])
    for j = 1, #fields, 2 do
      local score = redis.call('ZSCORE', ARGV[1] .. fields[j], id)
      if score ~= false and tonumber(score) >= now then
        current[#current + 1] = fields[j]
        current[#current + 1] = fields[j + 1]
      end
    end
  end
  out[#out + 1] = current
end
return out
"""
)
