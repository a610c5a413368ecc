// Command apiextensions-apiserver is a stand-alone Kubernetes API server for
// tests: the upstream k8s.io/apiextensions-apiserver (schema and CEL
// validation, status subresource, server-side apply, watch, ...) run without a
// core kube-apiserver, plus core/v1 Namespace objects. Built by tests/env/build
// against Debian's packaged library (GOPATH mode); started by tests/env/up.
//
// Differences from the stock apiextensions-apiserver main:
//   - no core API options: no shared informers for core objects, no admission
//     plugins, no API priority and fairness, and the default webhook service
//     resolver;
//   - no delegated authorization: everything is allowed, or with
//     --denied-users-file=PATH everything but the requests (resource and
//     non-resource alike) of the users named in that file, one per line, which
//     get 403 Forbidden; the file is polled every 100 ms and may be missing (no
//     denials). The denied users are judged first, by name alone, so a denial
//     holds for members of system:masters too;
//   - with --rbac-file=PATH, while that file exists, RBAC authorization after the
//     denied users: the file is a JSON List (or array) of ClusterRoles,
//     ClusterRoleBindings, Roles and RoleBindings, to which kube-apiserver's
//     bootstrap roles for discovery, /version, the health URLs and self access
//     reviews are added. A ClusterRoleBinding grants everywhere, a RoleBinding in
//     its namespace only (a Role of it or a ClusterRole); User, Group and
//     ServiceAccount subjects; rules matched by upstream's rule engine
//     (k8s.io/component-helpers/auth/rbac/validation); members of system:masters
//     may do everything, as in kube-apiserver; anything else is 403 Forbidden.
//     No ClusterRole aggregation. The RBAC objects are not served as resources:
//     the file is the only way in. Polled every 100 ms; while it is missing or
//     empty, everything is allowed; a content that does not parse is an error at
//     start-up, and later keeps the last one in force (logged);
//   - POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews (for the
//     requesting user, after impersonation: `kubectl auth can-i --as=...`) and
//     .../subjectaccessreviews are answered by the same authorizers, in JSON or
//     protobuf; no other authorization.k8s.io resource, and the group is not in
//     discovery;
//   - impersonation (Impersonate-User/-Group, `kubectl --as/--as-group`) is the
//     generic handler chain's, authorized as above (system:masters may);
//   - with --expired-watches-file=PATH, the first watch from a resource version
//     (not 0) of each user named in that file (of any resource, or of the one
//     named after the user on its line) is answered 410 Gone "too old
//     resource version", as when the version has been compacted away; the
//     file is polled every 100 ms, and each change of its content arms every
//     user in it once more (lines starting with # are comments);
//   - authentication: client certificates from --client-ca-file plus
//     anonymous; no remote (token/SubjectAccessReview) authentication and no
//     in-cluster configmap lookup;
//   - OpenAPI v2 and v3 are served (kubectl downloads them);
//   - discovery is on: the /apis group list follows the established CRDs;
//   - the legacy core group "" v1 serves namespaces only (so that namespace
//     label selectors can be tested), from the generic registry with a small
//     strategy of ours: no lifecycle (a delete removes the object at once, and
//     nothing in it is deleted), no status subresource, no deletecollection.
//     Namespaced custom resources still work in any namespace, existing or
//     not, as there is no admission.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	noopoteltrace "go.opentelemetry.io/otel/trace/noop"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/version/verflag"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
	"k8s.io/klog/v2"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	netutils "k8s.io/utils/net"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

const etcdPathPrefix = "/registry/apiextensions.kubernetes.io"

func main() {
	klog.InitFlags(nil)
	fs := pflag.CommandLine
	fs.AddGoFlagSet(flag.CommandLine)
	// --version comes with k8s.io/component-base/version/verflag (on pflag.CommandLine).

	runOpts := genericoptions.NewServerRunOptions()
	rec := genericoptions.NewRecommendedOptions(etcdPathPrefix,
		apiserver.Codecs.LegacyCodec(v1beta1.SchemeGroupVersion, apiextensionsv1.SchemeGroupVersion))
	rec.CoreAPI = nil       // no core kube-apiserver to talk to
	rec.Admission = nil     // no admission plugins (they need core informers)
	rec.Authorization = nil // nil options => always-allow authorizer (replaced by --denied-users-file)
	rec.Features.EnablePriorityAndFairness = false
	rec.Authentication.RemoteKubeConfigFileOptional = true
	rec.Authentication.SkipInClusterLookup = true
	apiEnablement := genericoptions.NewAPIEnablementOptions()
	var files testFiles

	runOpts.AddUniversalFlags(fs)
	rec.AddFlags(fs)
	apiEnablement.AddFlags(fs)
	fs.StringVar(&files.deniedUsers, "denied-users-file", files.deniedUsers,
		"File of user names, one per line, whose requests are all forbidden (polled every 100 ms; "+
			"a missing file denies nobody). Without it every request is allowed.")
	fs.StringVar(&files.expiredWatches, "expired-watches-file", files.expiredWatches,
		"File of user names, one per line (optionally followed by a resource), whose next watch "+
			"from a resource version is answered 410 Gone, once per change of the file (polled every 100 ms).")
	fs.StringVar(&files.rbac, "rbac-file", files.rbac,
		"JSON file (a List or an array) of ClusterRoles, ClusterRoleBindings, Roles and RoleBindings: "+
			"while it exists, requests are authorized by RBAC as kube-apiserver does (system:masters may do "+
			"everything); while it is missing, or without the flag, everything is allowed (polled every 100 ms).")
	pflag.Parse()
	verflag.PrintAndExitIfRequested()

	if err := run(runOpts, rec, apiEnablement, files); err != nil {
		fmt.Fprintf(os.Stderr, "apiextensions-apiserver: %v\n", err)
		os.Exit(1)
	}
}

// testFiles are the files through which a test changes the server's behaviour while it runs
// ("" when not given).
type testFiles struct{ deniedUsers, expiredWatches, rbac string }

func run(runOpts *genericoptions.ServerRunOptions, rec *genericoptions.RecommendedOptions, apiEnablement *genericoptions.APIEnablementOptions, files testFiles) error {
	if err := runOpts.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	if err := runOpts.Complete(); err != nil {
		return err
	}
	var errs []error
	errs = append(errs, runOpts.Validate()...)
	errs = append(errs, rec.Validate()...)
	errs = append(errs, apiEnablement.Validate(apiserver.Scheme)...)
	if len(errs) > 0 {
		return fmt.Errorf("invalid options: %v", errs)
	}
	if err := rec.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return fmt.Errorf("creating self-signed certificates: %w", err)
	}

	serverConfig := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	defaultChain := serverConfig.BuildHandlerChainFunc
	var expired *expiredWatches
	if files.expiredWatches != "" {
		list, err := newUserList(files.expiredWatches)
		if err != nil {
			return fmt.Errorf("--expired-watches-file: %w", err)
		}
		go list.poll(100 * time.Millisecond)
		expired = &expiredWatches{list: list, answered: map[string]int64{}}
	}
	serverConfig.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
		if expired != nil {
			h = expired.handler(h) // inside the chain: the user is known, the audit log sees the 410
		}
		// Inside the chain too: the user is the impersonated one, and creating the review is
		// authorized (and audited) as a request of its own.
		h = accessReviews(h, c.Authorization.Authorizer)
		return leaseStrategicMergeAsMerge(defaultChain(h, c))
	}
	namer := openapinamer.NewDefinitionNamer(apiserver.Scheme, scheme.Scheme)
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		all := generatedopenapi.GetOpenAPIDefinitions(ref)
		maps.Copy(all, namespaceOpenAPIDefinitions(ref))
		return all
	})
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(defs, namer)
	serverConfig.OpenAPIConfig.Info.Title = "apiextensions-apiserver"
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(defs, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "apiextensions-apiserver"

	// Advertise the bind address in discovery (the stock main advertises ":<port>").
	if bind := rec.SecureServing.BindAddress; runOpts.AdvertiseAddress == nil && bind != nil && !bind.IsUnspecified() {
		runOpts.AdvertiseAddress = bind
	}
	if err := runOpts.ApplyTo(&serverConfig.Config); err != nil {
		return err
	}
	// Authentication sets the OpenAPI security definitions, so OpenAPI comes first.
	if err := rec.ApplyTo(serverConfig); err != nil {
		return err
	}
	// rec.Authorization is nil, so ApplyTo set the always-allow authorizer alone (no
	// privileged-group authorizer for system:masters, which delegated authorization would
	// put first); ours replaces it and is the only one consulted. The loopback client
	// (user system:apiserver, group system:masters) goes through it as well. The denied users
	// come first, so that a denial holds for members of system:masters too; then RBAC (with
	// its system:masters short-cut), or without --rbac-file everything is allowed.
	var authorizers []authorizer.Authorizer
	if files.deniedUsers != "" {
		denied, err := newDeniedUsers(files.deniedUsers)
		if err != nil {
			return err
		}
		go denied.poll(100 * time.Millisecond)
		authorizers = append(authorizers, denied)
	}
	if files.rbac != "" {
		rbac, err := newRBACAuthorizer(files.rbac)
		if err != nil {
			return fmt.Errorf("--rbac-file: %w", err)
		}
		go rbac.poll(100 * time.Millisecond)
		authorizers = append(authorizers, rbac)
	} else {
		authorizers = append(authorizers, authorizerfactory.NewAlwaysAllowAuthorizer())
	}
	serverConfig.Authorization.Authorizer = union.New(authorizers...)
	if err := apiEnablement.ApplyTo(&serverConfig.Config, apiserver.DefaultAPIResourceConfigSource(), apiserver.Scheme); err != nil {
		return err
	}

	config := &apiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: apiserver.ExtraConfig{
			CRDRESTOptionsGetter: options.NewCRDRESTOptionsGetter(*rec.Etcd, serverConfig.ResourceTransformers, serverConfig.StorageObjectCountTracker),
			ServiceResolver:      webhook.NewDefaultServiceResolver(),
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, serverConfig.LoopbackClientConfig, noopoteltrace.NewTracerProvider()),
		},
	}
	completed := config.Complete()
	// apiserver.Config.Complete turns discovery off because kube-apiserver's
	// aggregator normally serves /apis; here nobody else does.
	completed.GenericConfig.EnableDiscovery = true

	server, err := completed.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	gs := server.GenericAPIServer

	// Legacy (non-aggregated) /apis: keep the group list in step with the CRDs.
	// The aggregated form is already kept up to date by the CRD discovery controller.
	crdInformer := server.Informers.Apiextensions().V1().CustomResourceDefinitions()
	groups := &groupSync{manager: gs.DiscoveryGroupManager, lister: crdInformer.Lister().List}
	if _, err := crdInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { groups.sync(obj) },
		UpdateFunc: func(_, obj interface{}) { groups.sync(obj) },
		DeleteFunc: func(obj interface{}) { groups.sync(obj) },
	}); err != nil {
		return err
	}

	// Core group "" v1 with namespaces; this also serves /api and /api/v1 and
	// adds the group to aggregated discovery.
	namespaces, err := newNamespaceStorage(*rec.Etcd, serverConfig)
	if err != nil {
		return err
	}
	core := genericapiserver.NewDefaultAPIGroupInfo("", coreScheme, runtime.NewParameterCodec(coreScheme), coreCodecs)
	core.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{"namespaces": namespaces}
	if err := gs.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &core); err != nil {
		return err
	}

	ctx := genericapiserver.SetupSignalContext()
	return gs.PrepareRun().RunWithContext(ctx)
}

// leaseStrategicMergeAsMerge lets the CRD-served Lease stand in for the built-in one, which
// accepts strategic merge patches (leader election clients send them). Custom resources answer
// 415 to that media type; a Lease has no lists, so a JSON merge patch means the same.
func leaseStrategicMergeAsMerge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPatch &&
			strings.HasPrefix(req.URL.Path, "/apis/coordination.k8s.io/") &&
			strings.HasPrefix(req.Header.Get("Content-Type"), "application/strategic-merge-patch+json") {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
		next.ServeHTTP(w, req)
	})
}

// userList is a file of user names, one per line (# starts a comment), read once before
// serving and then re-read by poll whenever its content changes, never per request.
type userList struct {
	path string
	// users maps each name to the rest of its line ("" when the line has the name alone).
	users atomic.Pointer[map[string]string]
	// generation counts the contents put in force.
	generation atomic.Int64
	last       []byte // content in force (nil: missing or empty file)
}

func newUserList(path string) (*userList, error) {
	l := &userList{path: path}
	data, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	l.set(data)
	return l, nil
}

func (l *userList) set(data []byte) {
	users := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		users[name] = strings.TrimSpace(rest)
	}
	l.users.Store(&users)
	l.generation.Add(1)
	l.last = data
	klog.Infof("users of %s: %q", l.path, slices.Sorted(maps.Keys(users)))
}

func (l *userList) has(user string) bool {
	_, in := (*l.users.Load())[user]
	return in
}

// rest is the rest of user's line, and whether the user is listed.
func (l *userList) rest(user string) (string, bool) {
	rest, in := (*l.users.Load())[user]
	return rest, in
}

// poll re-reads the file every interval and puts a changed content in force. While the file
// cannot be read (other than missing), the last set stays in force.
func (l *userList) poll(interval time.Duration) {
	pollFile(l.path, interval, l.last, func(data []byte) error { l.set(data); return nil })
}

// pollFile reads path every interval and calls set with its content (nil when missing or
// empty) whenever that differs from last. While the file cannot be read (other than missing),
// or set fails, what is in force stays so, and the error is logged once.
func pollFile(path string, interval time.Duration, last []byte, set func([]byte) error) {
	var lastErr string
	for range time.Tick(interval) {
		data, err := readOptional(path)
		if err == nil && bytes.Equal(data, last) {
			lastErr = ""
			continue
		}
		if err == nil {
			if err = set(data); err == nil {
				last, lastErr = data, ""
				continue
			}
		}
		if err.Error() != lastErr {
			klog.Errorf("%s (keeping what is in force): %v", path, err)
			lastErr = err.Error()
		}
	}
}

// readOptional is the file's content, nil when it is missing.
func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// deniedUsers is the authorizer of --denied-users-file: it forbids every request of the
// users named in the file and leaves all others to the next authorizer.
type deniedUsers struct{ *userList }

func newDeniedUsers(path string) (*deniedUsers, error) {
	l, err := newUserList(path)
	if err != nil {
		return nil, fmt.Errorf("--denied-users-file: %w", err)
	}
	return &deniedUsers{l}, nil
}

func (d *deniedUsers) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if u := a.GetUser(); u != nil && d.has(u.GetName()) {
		return authorizer.DecisionDeny, "access revoked by the test environment", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// rbacAuthorizer is the authorizer of --rbac-file: kube-apiserver's RBAC semantics over the
// objects of the file plus the bootstrap policy every cluster has (bootstrapPolicy). A
// ClusterRoleBinding grants its ClusterRole's rules everywhere, a RoleBinding its Role's or
// ClusterRole's rules in its own namespace only; members of system:masters may do everything
// (kube-apiserver's privileged-group authorizer, which comes before RBAC there); anything not
// granted is left to the next authorizer (none: forbidden). The rules are matched by upstream's
// rule engine (k8s.io/component-helpers/auth/rbac/validation), the ServiceAccount subjects by
// k8s.io/apiserver's serviceaccount package; only the binding resolution is ours. While the file
// is missing (or empty), everything is allowed. Not done: ClusterRole aggregation
// (aggregationRule), the escalation checks on writing RBAC objects (they are not served here).
type rbacAuthorizer struct {
	path   string
	policy atomic.Pointer[rbacPolicy] // nil: no file, everything allowed
	last   []byte
}

type rbacPolicy struct {
	clusterRoles        map[string][]rbacv1.PolicyRule
	roles               map[string]map[string][]rbacv1.PolicyRule // namespace -> name -> rules
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	roleBindings        map[string][]rbacv1.RoleBinding // by namespace
}

func newRBACAuthorizer(path string) (*rbacAuthorizer, error) {
	r := &rbacAuthorizer{path: path}
	data, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	if err := r.set(data); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rbacAuthorizer) poll(interval time.Duration) { pollFile(r.path, interval, r.last, r.set) }

func (r *rbacAuthorizer) set(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		r.policy.Store(nil)
		r.last = data
		klog.Infof("RBAC of %s: none, everything is allowed", r.path)
		return nil
	}
	p, err := parseRBAC(data)
	if err != nil {
		return err
	}
	r.policy.Store(p)
	r.last = data
	klog.Infof("RBAC of %s in force: %d ClusterRoles, %d ClusterRoleBindings, %d Roles, %d RoleBindings (with the bootstrap policy)",
		r.path, len(p.clusterRoles), len(p.clusterRoleBindings), countRoles(p.roles), countNested(p.roleBindings))
	return nil
}

func countRoles(m map[string]map[string][]rbacv1.PolicyRule) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func countNested[V any](m map[string][]V) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// parseRBAC reads a JSON array of objects, or a List of them (kind List, items), each a
// ClusterRole, ClusterRoleBinding, Role or RoleBinding of rbac.authorization.k8s.io/v1; a later
// object of the same kind and name replaces an earlier one.
func parseRBAC(data []byte) (*rbacPolicy, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(data, &list); err != nil || list.Kind != "List" {
			return nil, fmt.Errorf("neither a JSON array nor a List of RBAC objects")
		}
		items = list.Items
	}
	p := &rbacPolicy{
		clusterRoles: map[string][]rbacv1.PolicyRule{},
		roles:        map[string]map[string][]rbacv1.PolicyRule{},
		roleBindings: map[string][]rbacv1.RoleBinding{},
	}
	crbs := map[string]rbacv1.ClusterRoleBinding{}
	rbs := map[[2]string]rbacv1.RoleBinding{}
	add := func(raw json.RawMessage) error {
		var meta metav1.TypeMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			return err
		}
		if meta.APIVersion != rbacv1.SchemeGroupVersion.String() {
			return fmt.Errorf("apiVersion %q, not %s", meta.APIVersion, rbacv1.SchemeGroupVersion)
		}
		switch meta.Kind {
		case "ClusterRole":
			var o rbacv1.ClusterRole
			if err := json.Unmarshal(raw, &o); err != nil {
				return err
			}
			p.clusterRoles[o.Name] = o.Rules
		case "Role":
			var o rbacv1.Role
			if err := json.Unmarshal(raw, &o); err != nil {
				return err
			}
			if o.Namespace == "" {
				return fmt.Errorf("Role %q without a namespace", o.Name)
			}
			if p.roles[o.Namespace] == nil {
				p.roles[o.Namespace] = map[string][]rbacv1.PolicyRule{}
			}
			p.roles[o.Namespace][o.Name] = o.Rules
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			if err := json.Unmarshal(raw, &o); err != nil {
				return err
			}
			if o.RoleRef.Kind != "ClusterRole" {
				return fmt.Errorf("ClusterRoleBinding %q refers to a %q, not a ClusterRole", o.Name, o.RoleRef.Kind)
			}
			crbs[o.Name] = o
		case "RoleBinding":
			var o rbacv1.RoleBinding
			if err := json.Unmarshal(raw, &o); err != nil {
				return err
			}
			if o.Namespace == "" {
				return fmt.Errorf("RoleBinding %q without a namespace", o.Name)
			}
			if o.RoleRef.Kind != "Role" && o.RoleRef.Kind != "ClusterRole" {
				return fmt.Errorf("RoleBinding %s/%s refers to a %q", o.Namespace, o.Name, o.RoleRef.Kind)
			}
			rbs[[2]string{o.Namespace, o.Name}] = o
		default:
			return fmt.Errorf("kind %q is not an RBAC object", meta.Kind)
		}
		return nil
	}
	for _, raw := range bootstrapPolicy() {
		if err := add(raw); err != nil {
			return nil, fmt.Errorf("bootstrap policy: %w", err)
		}
	}
	for i, raw := range items {
		if err := add(raw); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(crbs)) {
		p.clusterRoleBindings = append(p.clusterRoleBindings, crbs[name])
	}
	for _, key := range slices.SortedFunc(maps.Keys(rbs), func(a, b [2]string) int {
		return strings.Compare(a[0]+"/"+a[1], b[0]+"/"+b[1])
	}) {
		p.roleBindings[key[0]] = append(p.roleBindings[key[0]], rbs[key])
	}
	return p, nil
}

// bootstrapPolicy is the part of kube-apiserver's bootstrap RBAC policy that lets every user
// learn about the server and itself: discovery, the version and health URLs, and its own
// access reviews (system:discovery, system:basic-user, system:public-info-viewer and
// system:service-account-issuer-discovery, bound as kube-apiserver binds them). cluster-admin
// (bound to system:masters) is the short-cut in Authorize; the other bootstrap roles are bound
// to the system components, which do not run here.
func bootstrapPolicy() []json.RawMessage {
	type rule = map[string][]string
	role := func(name string, rules ...rule) json.RawMessage {
		data, _ := json.Marshal(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
			"metadata": map[string]string{"name": name}, "rules": rules})
		return data
	}
	binding := func(name string, groups ...string) json.RawMessage {
		var subjects []map[string]string
		for _, g := range groups {
			subjects = append(subjects, map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g})
		}
		data, _ := json.Marshal(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
			"metadata": map[string]string{"name": name}, "subjects": subjects,
			"roleRef": map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}})
		return data
	}
	health := []string{"/livez", "/readyz", "/healthz", "/version", "/version/"}
	return []json.RawMessage{
		role("system:discovery", rule{"verbs": {"get"}, "nonResourceURLs": append(slices.Clone(health),
			"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*")}),
		binding("system:discovery", user.AllAuthenticated),
		role("system:basic-user",
			rule{"verbs": {"create"}, "apiGroups": {"authorization.k8s.io"}, "resources": {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
			rule{"verbs": {"create"}, "apiGroups": {"authentication.k8s.io"}, "resources": {"selfsubjectreviews"}}),
		binding("system:basic-user", user.AllAuthenticated),
		role("system:public-info-viewer", rule{"verbs": {"get"}, "nonResourceURLs": health}),
		binding("system:public-info-viewer", user.AllAuthenticated, user.AllUnauthenticated),
		role("system:service-account-issuer-discovery", rule{"verbs": {"get"}, "nonResourceURLs": {"/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"}}),
		binding("system:service-account-issuer-discovery", serviceaccount.AllServiceAccountsGroup),
	}
}

func (r *rbacAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	p := r.policy.Load()
	if p == nil {
		return authorizer.DecisionAllow, "", nil
	}
	u := a.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "RBAC: no user", nil
	}
	if slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup) {
		return authorizer.DecisionAllow, "member of " + user.SystemPrivilegedGroup, nil
	}
	return p.authorize(u, a)
}

// requestRule is the request as one atomic rule: one verb, group, resource and name, or one
// verb and non-resource URL, for rbacvalidation.Covers.
func requestRule(a authorizer.Attributes) rbacv1.PolicyRule {
	if !a.IsResourceRequest() {
		return rbacv1.PolicyRule{Verbs: []string{a.GetVerb()}, NonResourceURLs: []string{a.GetPath()}}
	}
	resource := a.GetResource()
	if a.GetSubresource() != "" {
		resource += "/" + a.GetSubresource()
	}
	rule := rbacv1.PolicyRule{Verbs: []string{a.GetVerb()}, APIGroups: []string{a.GetAPIGroup()}, Resources: []string{resource}}
	if a.GetName() != "" {
		rule.ResourceNames = []string{a.GetName()}
	}
	return rule
}

// authorize visits the bindings as kube-apiserver's RBAC authorizer does: every
// ClusterRoleBinding, then the RoleBindings of the request's namespace.
func (p *rbacPolicy) authorize(u user.Info, a authorizer.Attributes) (authorizer.Decision, string, error) {
	request := []rbacv1.PolicyRule{requestRule(a)}
	var errs []string
	for _, b := range p.clusterRoleBindings {
		subject, ok := appliesTo(u, b.Subjects, "")
		if !ok {
			continue
		}
		rules, found := p.clusterRoles[b.RoleRef.Name]
		if !found {
			errs = append(errs, fmt.Sprintf("clusterrole.rbac.authorization.k8s.io %q not found", b.RoleRef.Name))
			continue
		}
		if covered, _ := rbacvalidation.Covers(rules, request); covered {
			return authorizer.DecisionAllow, fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of ClusterRole %q to %s",
				b.Name, b.RoleRef.Name, subject), nil
		}
	}
	if ns := a.GetNamespace(); ns != "" {
		for _, b := range p.roleBindings[ns] {
			subject, ok := appliesTo(u, b.Subjects, ns)
			if !ok {
				continue
			}
			var rules []rbacv1.PolicyRule
			var found bool
			if b.RoleRef.Kind == "ClusterRole" {
				rules, found = p.clusterRoles[b.RoleRef.Name]
			} else {
				rules, found = p.roles[ns][b.RoleRef.Name]
			}
			if !found {
				errs = append(errs, fmt.Sprintf("%s.rbac.authorization.k8s.io %q not found", strings.ToLower(b.RoleRef.Kind), b.RoleRef.Name))
				continue
			}
			if covered, _ := rbacvalidation.Covers(rules, request); covered {
				return authorizer.DecisionAllow, fmt.Sprintf("RBAC: allowed by RoleBinding %q of %s %q to %s",
					b.Namespace+"/"+b.Name, b.RoleRef.Kind, b.RoleRef.Name, subject), nil
			}
		}
	}
	reason := ""
	if len(errs) > 0 {
		reason = "RBAC: " + strings.Join(errs, ", ")
	}
	return authorizer.DecisionNoOpinion, reason, nil
}

// appliesTo reports which of subjects names u (described as in kube-apiserver's reasons). A
// ServiceAccount subject without a namespace means one of the binding's namespace.
func appliesTo(u user.Info, subjects []rbacv1.Subject, bindingNamespace string) (string, bool) {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if u.GetName() == s.Name {
				return fmt.Sprintf("User %q", s.Name), true
			}
		case rbacv1.GroupKind:
			if slices.Contains(u.GetGroups(), s.Name) {
				return fmt.Sprintf("Group %q", s.Name), true
			}
		case rbacv1.ServiceAccountKind:
			ns := bindingNamespace
			if s.Namespace != "" {
				ns = s.Namespace
			}
			if ns != "" && serviceaccount.MatchesUsername(ns, s.Name, u.GetName()) {
				return fmt.Sprintf("ServiceAccount %q", ns+"/"+s.Name), true
			}
		}
	}
	return "", false
}

// accessReviews serves POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews (the
// requesting user, after impersonation: what `kubectl auth can-i` asks) and
// .../subjectaccessreviews (the user of the spec), answered by authz, the server's own
// authorizer, in JSON or protobuf (kubectl sends protobuf) as asked. No other resource of the
// group is served (no selfsubjectrulesreviews, so no `kubectl auth can-i --list`), nor discovery
// of it.
func accessReviews(next http.Handler, authz authorizer.Authorizer) http.Handler {
	const prefix = "/apis/authorization.k8s.io/v1/"
	codecs := serializer.NewCodecFactory(scheme.Scheme) // client-go's scheme: every built-in type
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		self := req.URL.Path == prefix+"selfsubjectaccessreviews"
		if !self && req.URL.Path != prefix+"subjectaccessreviews" {
			next.ServeHTTP(w, req)
			return
		}
		fail := func(code int, reason, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			data, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Message: msg, Reason: metav1.StatusReason(reason), Code: int32(code)})
			w.Write(data)
		}
		if req.Method != http.MethodPost {
			fail(http.StatusMethodNotAllowed, string(metav1.StatusReasonMethodNotAllowed), "only POST (create) is served")
			return
		}
		mediaType, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
		if mediaType == "" {
			mediaType = runtime.ContentTypeJSON
		}
		info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), strings.TrimSpace(mediaType))
		if !ok {
			fail(http.StatusUnsupportedMediaType, string(metav1.StatusReasonUnsupportedMediaType), "unsupported media type "+mediaType)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
		if err != nil {
			fail(http.StatusBadRequest, string(metav1.StatusReasonBadRequest), err.Error())
			return
		}
		decode := func(into runtime.Object) error {
			_, _, err := info.Serializer.Decode(body, nil, into)
			return err
		}
		var (
			review authorizationv1.SubjectAccessReview
			u      user.Info
		)
		if self {
			var s authorizationv1.SelfSubjectAccessReview
			if err := decode(&s); err != nil {
				fail(http.StatusBadRequest, string(metav1.StatusReasonBadRequest), err.Error())
				return
			}
			requester, ok := genericrequest.UserFrom(req.Context())
			if !ok {
				fail(http.StatusBadRequest, string(metav1.StatusReasonBadRequest), "no user on the request")
				return
			}
			review.Spec = authorizationv1.SubjectAccessReviewSpec{
				ResourceAttributes: s.Spec.ResourceAttributes, NonResourceAttributes: s.Spec.NonResourceAttributes,
			}
			u = requester
		} else {
			if err := decode(&review); err != nil {
				fail(http.StatusBadRequest, string(metav1.StatusReasonBadRequest), err.Error())
				return
			}
			if review.Spec.User == "" && len(review.Spec.Groups) == 0 {
				fail(http.StatusUnprocessableEntity, string(metav1.StatusReasonInvalid), "spec.user or spec.groups is required")
				return
			}
			extra := map[string][]string{}
			for k, v := range review.Spec.Extra {
				extra[k] = []string(v)
			}
			u = &user.DefaultInfo{Name: review.Spec.User, UID: review.Spec.UID, Groups: review.Spec.Groups, Extra: extra}
		}
		spec := review.Spec
		if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
			fail(http.StatusUnprocessableEntity, string(metav1.StatusReasonInvalid),
				"exactly one of spec.resourceAttributes and spec.nonResourceAttributes is required")
			return
		}
		attrs := authorizer.AttributesRecord{User: u}
		if ra := spec.ResourceAttributes; ra != nil {
			attrs.ResourceRequest = true
			attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = ra.Verb, ra.Namespace, ra.Group, ra.Version
			attrs.Resource, attrs.Subresource, attrs.Name = ra.Resource, ra.Subresource, ra.Name
		} else {
			attrs.Verb, attrs.Path = spec.NonResourceAttributes.Verb, spec.NonResourceAttributes.Path
		}
		decision, reason, err := authz.Authorize(req.Context(), attrs)
		review.Status = authorizationv1.SubjectAccessReviewStatus{
			Allowed: decision == authorizer.DecisionAllow, Denied: decision == authorizer.DecisionDeny, Reason: reason,
		}
		if err != nil {
			review.Status.EvaluationError = err.Error()
		}
		var out runtime.Object = &review
		if self {
			out = &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{
					ResourceAttributes: spec.ResourceAttributes, NonResourceAttributes: spec.NonResourceAttributes,
				},
				Status: review.Status,
			}
		}
		klog.V(2).Infof("access review for %s: %+v -> %v %q", u.GetName(), attrs, decision, reason)
		data, err := runtime.Encode(codecs.EncoderForVersion(info.Serializer, authorizationv1.SchemeGroupVersion), out)
		if err != nil {
			fail(http.StatusInternalServerError, string(metav1.StatusReasonInternalError), err.Error())
			return
		}
		w.Header().Set("Content-Type", info.MediaType)
		w.WriteHeader(http.StatusCreated)
		w.Write(data)
	})
}

// expiredWatches answers the first watch from a resource version of each user of its list
// 410 Gone, once per generation of the list: what a client sees when the version it resumes
// from has been compacted away.
type expiredWatches struct {
	list     *userList
	mu       sync.Mutex
	answered map[string]int64 // user -> the generation whose 410 it got
}

func (e *expiredWatches) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		watching := q.Get("watch") == "true" || q.Get("watch") == "1"
		rv := q.Get("resourceVersion")
		if u, ok := genericrequest.UserFrom(req.Context()); ok && watching && rv != "" && rv != "0" &&
			e.applies(u.GetName(), req.URL.Path) && e.expire(u.GetName()) {
			klog.Infof("watch of %s from resource version %s: 410 for %s", req.URL.Path, rv, u.GetName())
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGone)
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",`+
				`"message":"too old resource version: %s (expired by the test environment)",`+
				`"reason":"Expired","code":410}`, rv)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// applies reports whether user is listed, for any resource or for the one path names (a
// line "USER RESOURCE": the plural, such as userpoolmfaconfigs).
func (e *expiredWatches) applies(user, path string) bool {
	resource, listed := e.list.rest(user)
	return listed && (resource == "" || strings.HasSuffix(path, "/"+resource))
}

// expire reports whether user's watch is the first of the list's current generation.
func (e *expiredWatches) expire(user string) bool {
	generation := e.list.generation.Load()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.answered[user] == generation {
		return false
	}
	e.answered[user] = generation
	return true
}

// groupSync recomputes the legacy discovery entry of a CRD's group whenever a
// CRD of that group changes, the way the CRD discovery controller does for
// /apis/<group>: established CRDs, served versions, sorted kube-aware, the
// first one preferred.
type groupSync struct {
	mu      sync.Mutex
	manager interface {
		AddGroup(metav1.APIGroup)
		RemoveGroup(string)
	}
	lister func(labels.Selector) ([]*apiextensionsv1.CustomResourceDefinition, error)
}

func (g *groupSync) sync(obj interface{}) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return
	}
	group := crd.Spec.Group
	g.mu.Lock()
	defer g.mu.Unlock()

	crds, err := g.lister(labels.Everything())
	if err != nil {
		klog.Errorf("listing CRDs for discovery of %q: %v", group, err)
		return
	}
	seen := map[string]bool{}
	var versions []metav1.GroupVersionForDiscovery
	for _, c := range crds {
		if c.Spec.Group != group || !apihelpers.IsCRDConditionTrue(c, apiextensionsv1.Established) {
			continue
		}
		for _, v := range c.Spec.Versions {
			if v.Served && !seen[v.Name] {
				seen[v.Name] = true
				versions = append(versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v.Name, Version: v.Name})
			}
		}
	}
	if len(versions) == 0 {
		g.manager.RemoveGroup(group)
		return
	}
	// insertion sort, highest kube-aware version first
	for i := 1; i < len(versions); i++ {
		for j := i; j > 0 && version.CompareKubeAwareVersionStrings(versions[j-1].Version, versions[j].Version) < 0; j-- {
			versions[j-1], versions[j] = versions[j], versions[j-1]
		}
	}
	g.manager.AddGroup(metav1.APIGroup{Name: group, Versions: versions, PreferredVersion: versions[0]})
}

// --- core/v1 Namespace ---------------------------------------------------------

// coreScheme knows only Namespace and NamespaceList of core/v1. The generic
// registry works on an internal version, converted from and to v1; here the v1
// types are registered as the internal ones too, so no conversion is needed.
var (
	coreScheme = runtime.NewScheme()
	coreCodecs = serializer.NewCodecFactory(coreScheme)
)

func init() {
	internal := schema.GroupVersion{Version: runtime.APIVersionInternal}
	for _, gv := range []schema.GroupVersion{corev1.SchemeGroupVersion, internal} {
		coreScheme.AddKnownTypes(gv, &corev1.Namespace{}, &corev1.NamespaceList{})
	}
	metav1.AddToGroupVersion(coreScheme, corev1.SchemeGroupVersion) // options, Status, WatchEvent
	utilruntime.Must(coreScheme.SetVersionPriority(corev1.SchemeGroupVersion))
	// Defaulting (on decoding) labels a namespace before field management sees it,
	// so that its creator owns the label, as in kube-apiserver.
	coreScheme.AddTypeDefaultingFunc(&corev1.Namespace{}, func(obj interface{}) { setNameLabel(obj.(*corev1.Namespace)) })
}

// newNamespaceStorage stores namespaces as v1 JSON under /registry/namespaces/ in
// the etcd of the custom resources, with a watch cache (bookmarks, consistent lists).
func newNamespaceStorage(etcd genericoptions.EtcdOptions, c *genericapiserver.RecommendedConfig) (rest.Storage, error) {
	etcd.StorageConfig.Prefix = "/registry"
	etcd.StorageConfig.Codec = coreCodecs.LegacyCodec(corev1.SchemeGroupVersion)
	etcd.StorageConfig.EncodeVersioner = corev1.SchemeGroupVersion
	etcd.StorageConfig.StorageObjectCountTracker = c.StorageObjectCountTracker
	optsGetter := etcd.CreateRESTOptionsGetter(&genericoptions.SimpleStorageFactory{StorageConfig: etcd.StorageConfig}, c.ResourceTransformers)

	// kubectl get shows NAME STATUS AGE, as for the built-in resource.
	table, err := tableconvertor.New([]apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "Status", Type: "string", JSONPath: ".status.phase"},
		{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
	})
	if err != nil {
		return nil, err
	}
	strategy := namespaceStrategy{coreScheme, names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &corev1.Namespace{} },
		NewListFunc:               func() runtime.Object { return &corev1.NamespaceList{} },
		DefaultQualifiedResource:  corev1.Resource("namespaces"),
		SingularQualifiedResource: corev1.Resource("namespace"),
		CreateStrategy:            strategy,
		UpdateStrategy:            strategy,
		DeleteStrategy:            strategy,
		ResetFieldsStrategy:       strategy,
		TableConvertor:            table,
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, err
	}
	return namespaceREST{store}, nil
}

// namespaceREST exposes all of the generic store but DeleteCollection, which the
// built-in resource lacks too (the endpoint installer derives the verbs from the
// interfaces implemented).
type namespaceREST struct {
	namespaceStore
}

type namespaceStore interface {
	rest.Scoper
	rest.SingularNameProvider
	rest.Creater
	rest.Getter
	rest.Lister
	rest.Updater
	rest.GracefulDeleter
	rest.MayReturnFullObjectDeleter
	rest.Watcher
	rest.StorageVersionProvider
	rest.ResetFieldsStrategy
	rest.StorageWithReadiness
	Destroy()
}

// ShortNames lets clients say "ns" (kubectl takes short names from discovery).
func (namespaceREST) ShortNames() []string { return []string{"ns"} }

// namespaceStrategy does what kube-apiserver's namespace strategy does, less the
// namespace lifecycle (spec.finalizers are not acted on): phase Active, the name
// a DNS label, status kept by updates, and the kubernetes.io/metadata.name label.
type namespaceStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (namespaceStrategy) NamespaceScoped() bool          { return false }
func (namespaceStrategy) AllowCreateOnUpdate() bool      { return false }
func (namespaceStrategy) AllowUnconditionalUpdate() bool { return true }

func (namespaceStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*corev1.Namespace).Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
}

func (namespaceStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Namespace).Status = old.(*corev1.Namespace).Status
}

func (namespaceStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	ns := obj.(*corev1.Namespace)
	return apimachineryvalidation.ValidateObjectMeta(&ns.ObjectMeta, false,
		apimachineryvalidation.ValidateNamespaceName, field.NewPath("metadata"))
}

// ValidateUpdate has nothing to add: the registry validates metadata updates itself.
func (namespaceStrategy) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

func (namespaceStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (namespaceStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// Canonicalize runs once a generated name is known.
func (namespaceStrategy) Canonicalize(obj runtime.Object) { setNameLabel(obj.(*corev1.Namespace)) }

// setNameLabel sets the label kubernetes.io/metadata.name to the name, which
// lets label selectors pick namespaces by name.
func setNameLabel(ns *corev1.Namespace) {
	if ns.Name == "" {
		return // generateName: not known yet
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// GetResetFields keeps server-side apply from claiming status, which updates ignore.
func (namespaceStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{"v1": fieldpath.NewSet(fieldpath.MakePathOrDie("status"))}
}

// namespaceOpenAPIDefinitions describes Namespace and NamespaceList as upstream's
// generated definitions do (those are not packaged; the apiextensions ones cover
// only its own types and what they use). They make Namespace appear in the served
// OpenAPI v2 and v3, which kubectl reads, and give server-side apply its schema.
func namespaceOpenAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	var (
		nsName, listName     = corev1.Namespace{}.OpenAPIModelName(), corev1.NamespaceList{}.OpenAPIModelName()
		specName, statusName = corev1.NamespaceSpec{}.OpenAPIModelName(), corev1.NamespaceStatus{}.OpenAPIModelName()
		condName             = corev1.NamespaceCondition{}.OpenAPIModelName()
		objectMeta, listMeta = metav1.ObjectMeta{}.OpenAPIModelName(), metav1.ListMeta{}.OpenAPIModelName()
		timeName             = metav1.Time{}.OpenAPIModelName()
		typeMeta             = metav1.TypeMeta{}.SwaggerDoc()
		str                  = schemaOf("string", nil)
		strNoOmit            = schemaOf("string", "") // default "", as upstream gives fields without omitempty
	)
	refTo := func(name string) spec.Schema {
		return spec.Schema{SchemaProps: spec.SchemaProps{Ref: ref(name), Default: map[string]interface{}{}}}
	}
	arrayOf := func(item spec.Schema, ext spec.Extensions) spec.Schema {
		s := schemaOf("array", nil)
		s.Items = &spec.SchemaOrArray{Schema: &item}
		s.Extensions = ext
		return s
	}
	// object documents each property with the type's SwaggerDoc, and apiVersion and kind with TypeMeta's.
	object := func(doc map[string]string, props map[string]spec.Schema, required ...string) spec.Schema {
		s := schemaOf("object", nil)
		s.Description, s.Properties, s.Required = doc[""], props, required
		for name, p := range props {
			p.Description = doc[name]
			if d, ok := typeMeta[name]; ok {
				p.Description = d
			}
			props[name] = p
		}
		return s
	}
	return map[string]common.OpenAPIDefinition{
		nsName: {
			Schema: object(corev1.Namespace{}.SwaggerDoc(), map[string]spec.Schema{
				"apiVersion": str, "kind": str, "metadata": refTo(objectMeta), "spec": refTo(specName), "status": refTo(statusName),
			}),
			Dependencies: []string{objectMeta, specName, statusName},
		},
		listName: {
			Schema: object(corev1.NamespaceList{}.SwaggerDoc(), map[string]spec.Schema{
				"apiVersion": str, "kind": str, "metadata": refTo(listMeta), "items": arrayOf(refTo(nsName), nil),
			}, "items"),
			Dependencies: []string{listMeta, nsName},
		},
		specName: {
			Schema: object(corev1.NamespaceSpec{}.SwaggerDoc(), map[string]spec.Schema{
				"finalizers": arrayOf(strNoOmit, spec.Extensions{"x-kubernetes-list-type": "atomic"}),
			}),
		},
		statusName: {
			Schema: object(corev1.NamespaceStatus{}.SwaggerDoc(), map[string]spec.Schema{
				"phase": str,
				"conditions": arrayOf(refTo(condName), spec.Extensions{
					"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": []interface{}{"type"},
					"x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "type",
				}),
			}),
			Dependencies: []string{condName},
		},
		condName: {
			Schema: object(corev1.NamespaceCondition{}.SwaggerDoc(), map[string]spec.Schema{
				"type": strNoOmit, "status": strNoOmit, "lastTransitionTime": refTo(timeName), "reason": str, "message": str,
			}, "type", "status"),
			Dependencies: []string{timeName},
		},
	}
}

func schemaOf(typ string, def interface{}) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{typ}, Default: def}}
}
