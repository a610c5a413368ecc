-- Ask the operator for a pass now: set the annotation reconcile.cognitoidp.operators.dev/requestedAt
-- to the current time (UTC, RFC 3339). The operator runs a pass when the value changes and
-- echoes it into status.lastHandledReconcileAt once that pass is done.
-- Argo CD gives actions no global os: require it (its safe os has only os.time and os.date).
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["reconcile.cognitoidp.operators.dev/requestedAt"] = os.date("!%Y-%m-%dT%XZ")
return obj
