-- Argo CD health check for cognitoidp.operators.dev/UserPoolMfaConfig, read from the operator's
-- kstatus conditions (Ready, Reconciling, Stalled), never from their reasons. The argocd-cm key
-- resource.customizations.health.cognitoidp.operators.dev_UserPoolMfaConfig carries it
-- (deploy/argocd/argocd-cm-patch.yaml). Runs on gopher-lua without the standard libraries, as
-- Argo CD runs argocd-cm health checks; also on Lua 5.1-5.4.
--
--   no status, or status.observedGeneration (or Ready's) older than metadata.generation
--                      -> Progressing (the operator has not seen the current spec yet)
--   Stalled=True       -> Degraded (progress needs a person; message from Stalled)
--   Reconciling=True   -> Progressing (the operator retries by itself; message from Reconciling)
--   being deleted      -> Progressing (Pending deletion)
--   Ready=True         -> Healthy
--   anything else      -> Progressing (Ready=False without Reconciling and Stalled: an older
--                         operator; Ready=Unknown; no Ready condition yet)

local hs = {}

local function describe(condition, fallback)
  if condition ~= nil then
    if condition.message ~= nil and condition.message ~= "" then
      return condition.message
    end
    if condition.reason ~= nil and condition.reason ~= "" then
      return condition.reason
    end
  end
  return fallback
end

local function result(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local generation = nil
local deleting = false
if obj.metadata ~= nil then
  generation = obj.metadata.generation
  deleting = obj.metadata.deletionTimestamp ~= nil
end

if obj.status == nil then
  if deleting then
    return result("Progressing", "Pending deletion")
  end
  return result("Progressing", "Waiting for the operator to reconcile this resource")
end

local ready, reconciling, stalled = nil, nil, nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Reconciling" then
      reconciling = condition
    elseif condition.type == "Stalled" then
      stalled = condition
    end
  end
end

if generation ~= nil then
  local observed = obj.status.observedGeneration
  if observed == nil and ready ~= nil then
    observed = ready.observedGeneration
  end
  local stale = observed == nil or observed < generation
  if ready ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
    stale = true
  end
  if stale then
    if deleting then
      return result("Progressing", "Pending deletion")
    end
    return result("Progressing", "Waiting for the operator to observe generation " .. tostring(generation))
  end
end

if stalled ~= nil and stalled.status == "True" then
  return result("Degraded", describe(stalled, "Stalled"))
end

if reconciling ~= nil and reconciling.status == "True" then
  return result("Progressing", describe(reconciling, "Reconciling"))
end

if deleting then
  return result("Progressing", "Pending deletion")
end

if ready == nil then
  return result("Progressing", "Waiting for the Ready condition")
end

if ready.status == "True" then
  return result("Healthy", describe(ready, "In sync"))
end

return result("Progressing", describe(ready, "Reconciling"))
