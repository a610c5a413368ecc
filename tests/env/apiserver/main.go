// Command apiextensions-apiserver is a stand-alone, CRD-only Kubernetes API
// server for tests: the upstream k8s.io/apiextensions-apiserver (schema and CEL
// validation, status subresource, server-side apply, watch, ...) run without a
// core kube-apiserver. Built by tests/env/build against Debian's packaged
// library (GOPATH mode); started by tests/env/up.
//
// Differences from the stock apiextensions-apiserver main:
//   - no core API options: no shared informers for core objects, no delegated
//     authorization (always allow), no admission plugins, no API priority and
//     fairness, and the default webhook service resolver;
//   - authentication: client certificates from --client-ca-file plus
//     anonymous; no remote (token/SubjectAccessReview) authentication and no
//     in-cluster configmap lookup;
//   - OpenAPI v2 and v3 are served (kubectl downloads them);
//   - discovery is on: the /apis group list follows the established CRDs, and
//     /api answers core "v1" with an empty /api/v1 resource list (kube-rs and
//     kubectl discovery expect the legacy group to exist).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	noopoteltrace "go.opentelemetry.io/otel/trace/noop"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/version"
	discoveryendpoint "k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/version/verflag"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"
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
	rec.Authorization = nil // nil options => always-allow authorizer
	rec.Features.EnablePriorityAndFairness = false
	rec.Authentication.RemoteKubeConfigFileOptional = true
	rec.Authentication.SkipInClusterLookup = true
	apiEnablement := genericoptions.NewAPIEnablementOptions()

	runOpts.AddUniversalFlags(fs)
	rec.AddFlags(fs)
	apiEnablement.AddFlags(fs)
	pflag.Parse()
	verflag.PrintAndExitIfRequested()

	if err := run(runOpts, rec, apiEnablement); err != nil {
		fmt.Fprintf(os.Stderr, "apiextensions-apiserver: %v\n", err)
		os.Exit(1)
	}
}

func run(runOpts *genericoptions.ServerRunOptions, rec *genericoptions.RecommendedOptions, apiEnablement *genericoptions.APIEnablementOptions) error {
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
	serverConfig.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
		return leaseStrategicMergeAsMerge(defaultChain(h, c))
	}
	namer := openapinamer.NewDefinitionNamer(apiserver.Scheme, scheme.Scheme)
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
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
	addresses := completed.GenericConfig.DiscoveryAddresses

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

	// Core group: present but empty, in legacy and aggregated discovery alike
	// (client-go treats an empty legacy /api/v1 as a failed group version,
	// but not an empty aggregated one).
	gs.AggregatedLegacyDiscoveryGroupManager.AddGroupVersion("", apidiscoveryv2.APIVersionDiscovery{
		Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
		Version:   "v1",
		Resources: []apidiscoveryv2.APIResourceDiscovery{},
	})
	legacyRoot := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, &metav1.APIVersions{
			TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
			Versions:                   []string{"v1"},
			ServerAddressByClientCIDRs: addresses.ServerAddressByClientCIDRs(utilnet.GetClientIP(req)),
		})
	})
	gs.Handler.NonGoRestfulMux.Handle("/api", discoveryendpoint.WrapAggregatedDiscoveryToHandler(
		legacyRoot, gs.AggregatedLegacyDiscoveryGroupManager, nil))
	gs.Handler.NonGoRestfulMux.Handle("/api/v1", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList"},
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{},
		})
	}))

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

func writeJSON(w http.ResponseWriter, obj interface{}) {
	body, err := json.Marshal(obj)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
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
