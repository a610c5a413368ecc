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
//     denials). There is no system:masters short-cut (only our authorizer is
//     consulted), so a denial holds for members of that group too;
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
	"errors"
	"flag"
	"fmt"
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

	corev1 "k8s.io/api/core/v1"
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
	"k8s.io/apiserver/pkg/authorization/authorizer"
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
	var deniedUsersFile, expiredWatchesFile string

	runOpts.AddUniversalFlags(fs)
	rec.AddFlags(fs)
	apiEnablement.AddFlags(fs)
	fs.StringVar(&deniedUsersFile, "denied-users-file", deniedUsersFile,
		"File of user names, one per line, whose requests are all forbidden (polled every 100 ms; "+
			"a missing file denies nobody). Without it every request is allowed.")
	fs.StringVar(&expiredWatchesFile, "expired-watches-file", expiredWatchesFile,
		"File of user names, one per line (optionally followed by a resource), whose next watch "+
			"from a resource version is answered 410 Gone, once per change of the file (polled every 100 ms).")
	pflag.Parse()
	verflag.PrintAndExitIfRequested()

	if err := run(runOpts, rec, apiEnablement, deniedUsersFile, expiredWatchesFile); err != nil {
		fmt.Fprintf(os.Stderr, "apiextensions-apiserver: %v\n", err)
		os.Exit(1)
	}
}

func run(runOpts *genericoptions.ServerRunOptions, rec *genericoptions.RecommendedOptions, apiEnablement *genericoptions.APIEnablementOptions, deniedUsersFile, expiredWatchesFile string) error {
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
	if expiredWatchesFile != "" {
		list, err := newUserList(expiredWatchesFile)
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
	// (user system:apiserver) goes through it as well.
	if deniedUsersFile != "" {
		denied, err := newDeniedUsers(deniedUsersFile)
		if err != nil {
			return err
		}
		go denied.poll(100 * time.Millisecond)
		serverConfig.Authorization.Authorizer = denied
	}
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
	data, err := l.read()
	if err != nil {
		return nil, err
	}
	l.set(data)
	return l, nil
}

func (l *userList) read() ([]byte, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
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
	var lastErr string
	for range time.Tick(interval) {
		data, err := l.read()
		if err != nil {
			if err.Error() != lastErr {
				klog.Errorf("reading %s (keeping the last set): %v", l.path, err)
				lastErr = err.Error()
			}
			continue
		}
		lastErr = ""
		if !bytes.Equal(data, l.last) {
			l.set(data)
		}
	}
}

// deniedUsers is the authorizer of --denied-users-file: it forbids every request of the
// users named in the file and allows all others.
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
	return authorizer.DecisionAllow, "", nil
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
