-- Argo CD resource actions of cognitoidp.operators.dev/UserPoolMfaConfig (argocd-cm key
-- resource.customizations.actions.cognitoidp.operators.dev_UserPoolMfaConfig):
--   reconcile   ask the operator for a pass now (re-read the pool and correct it), instead of
--               waiting for the resync interval or a change of the spec
local actions = {}
actions["reconcile"] = {["disabled"] = false}
return actions
