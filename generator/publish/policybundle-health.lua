-- Argo CD health of a karma-hpa.io PolicyBundle, from the status the in-cluster side writes.
-- Degraded: the bundle was refused (Valid=False) or the sidecar reports Degraded=True / Ready=False.
-- Progressing: the sidecar has not yet loaded this spec.digest. Suspended: spec.paused.
-- Healthy: Ready=True for the current digest.
local hs = {}
local spec = obj.spec or {}
local status = obj.status or {}
local conditions = status.conditions or {}

local function condition(kind)
  for _, c in ipairs(conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local function describe(c, fallback)
  if c.message ~= nil and c.message ~= "" then return c.message end
  if c.reason ~= nil and c.reason ~= "" then return c.reason end
  return fallback
end

local valid = condition("Valid")
if valid ~= nil and valid.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(valid, "bundle refused")
  return hs
end
local degraded = condition("Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "degraded")
  return hs
end
if spec.paused == true then
  hs.status = "Suspended"
  hs.message = "paused: the native HPA runs alone"
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready, "not ready")
  return hs
end
if ready ~= nil and ready.status == "True" and status.observedDigest == spec.digest then
  hs.status = "Healthy"
  hs.message = "running v" .. tostring(spec.version)
  return hs
end
hs.status = "Progressing"
if status.observedDigest ~= nil and status.observedDigest ~= spec.digest then
  hs.message = "the sidecar still runs " .. tostring(status.observedVersion or status.observedDigest)
else
  hs.message = "waiting for the sidecar to load v" .. tostring(spec.version)
end
return hs
