-- Argo CD health check for cognitoidp.operators.dev/UserPoolMfaConfig.
-- Install it as argocd-cm key
--   resource.customizations.health.cognitoidp.operators.dev_UserPoolMfaConfig
-- (argocd-cm-patch.yaml beside this file carries it). Written for Argo CD's Lua 5.1 (gopher-lua);
-- also runs on Lua 5.2-5.4.
--
--   no status yet, or status.observedGeneration (or the Ready condition's) older than
--   metadata.generation                               -> Progressing (the operator has not seen
--                                                        the current spec yet)
--   Ready=True                                        -> Healthy
--   Ready=False with a terminal reason                -> Degraded (needs a change by a person:
--                                                        spec, access policy, IAM, pool plan, or
--                                                        the pool itself)
--   Ready=False with any other reason (throttling, service errors, IAM propagation, Pending...)
--                                                     -> Progressing (the operator retries)
--   Ready=Unknown, or no Ready condition              -> Progressing

local terminalReasons = {
  InvalidSpec = true,
  NotPermitted = true,
  BelowMfaFloor = true,
  PartitionMismatch = true,
  InvalidParameter = true,
  FeatureUnavailableInTier = true,
  Conflict = true,
  DriftDetected = true,
  NotAuthorized = true,
  CredentialsUnavailable = true,
  ResourceNotFound = true,
}

local function describe(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason
  end
  return fallback
end

local function check(obj)
  local hs = {}
  local generation = nil
  if obj.metadata ~= nil then
    generation = obj.metadata.generation
  end

  if obj.status == nil then
    hs.status = "Progressing"
    hs.message = "Waiting for the operator to reconcile this resource"
    return hs
  end

  local ready = nil
  if obj.status.conditions ~= nil then
    for _, condition in ipairs(obj.status.conditions) do
      if condition.type == "Ready" then
        ready = condition
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
      hs.status = "Progressing"
      hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
      return hs
    end
  end

  if ready == nil then
    hs.status = "Progressing"
    hs.message = "Waiting for the Ready condition"
    return hs
  end

  if ready.status == "True" then
    hs.status = "Healthy"
    hs.message = describe(ready, "MFA configuration is in sync with Cognito")
    return hs
  end

  if ready.status == "False" and ready.reason ~= nil and terminalReasons[ready.reason] then
    hs.status = "Degraded"
    hs.message = describe(ready, "Reconciliation failed")
    return hs
  end

  hs.status = "Progressing"
  hs.message = describe(ready, "Reconciling")
  return hs
end

return check(obj)
