// Command luarunner runs the tests of Argo CD resource customization directories on gopher-lua,
// the Lua engine Argo CD embeds, the way Argo CD runs argocd-cm customizations.
//
//	luarunner [-json] [-timestamp-annotation KEY]... DIR...
//
// DIR is laid out like Argo CD's resource_customizations/<group>/<Kind>/:
//
//	health.lua, health_test.yaml            tests: [{healthStatus: {status, message}, inputPath}]
//	actions/discovery.lua                   returns {name = {disabled = bool, ...}, ...}
//	actions/<name>/action.lua               returns the changed obj
//	actions/action_test.yaml                discoveryTests: [{inputPath, result: [{name, disabled}]}]
//	                                        actionTests: [{action, inputPath, expectedOutputPath}]
//
// Each script runs in a fresh state with what Argo CD gives argocd-cm scripts (useOpenLibs not
// set): the base, package and table libraries, no global os, and require("os") returning a table
// with only os.time and os.date; the object as the global obj (YAML -> JSON -> Lua, numbers as
// Lua numbers), an empty global actionParams, and one second to finish. Results go through JSON
// as in Argo CD (an empty Lua table is an empty array; for actions, an empty array where the
// input had a map becomes the map again).
//
// Health: status and message must equal healthStatus; a status Argo CD does not know fails.
// Discovery: the actions found must be exactly the result list. Actions: the returned object must
// equal expectedOutputPath exactly, except that each -timestamp-annotation (default
// reconcile.cognitoidp.operators.dev/requestedAt) the action set must be the current UTC time as
// YYYY-MM-DDTHH:MM:SSZ; its value is then taken from the expected object.
//
// Prints one line per case ("ok" or "FAIL", kind, directory, case, detail; with -json one JSON
// object per line) and a summary; exits 1 when a case failed, 2 when a directory cannot be read.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const version = "luarunner 1"

var (
	validHealth = map[string]bool{
		"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
	}
	timestampFormat = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

type healthTests struct {
	Tests []struct {
		HealthStatus healthStatus `json:"healthStatus"`
		InputPath    string       `json:"inputPath"`
	} `json:"tests"`
}

type resourceAction struct {
	Name        string `json:"name"`
	Disabled    bool   `json:"disabled"`
	IconClass   string `json:"iconClass,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

type actionTests struct {
	DiscoveryTests []struct {
		InputPath string           `json:"inputPath"`
		Result    []resourceAction `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action             string `json:"action"`
		InputPath          string `json:"inputPath"`
		ExpectedOutputPath string `json:"expectedOutputPath"`
	} `json:"actionTests"`
}

type result struct {
	Kind   string `json:"kind"` // health, discovery, action
	Dir    string `json:"dir"`
	Case   string `json:"case"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type runner struct {
	jsonOut    bool
	timestamps []string
	results    []result
}

func (r *runner) report(res result) {
	r.results = append(r.results, res)
	if r.jsonOut {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return
	}
	word := "ok  "
	if !res.OK {
		word = "FAIL"
	}
	fmt.Printf("%s %-9s %s %s: %s\n", word, res.Kind, res.Dir, res.Case, res.Detail)
}

func main() {
	var timestamps listFlag
	jsonOut := flag.Bool("json", false, "print one JSON object per case")
	showVersion := flag.Bool("version", false, "print the version and gopher-lua's and exit")
	flag.Var(&timestamps, "timestamp-annotation", "annotation an action sets to the current time (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: luarunner [-json] [-timestamp-annotation KEY]... DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Printf("%s (%s %s)\n", version, lua.PackageName, lua.PackageVersion)
		return
	}
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if len(timestamps) == 0 {
		timestamps = listFlag{"reconcile.cognitoidp.operators.dev/requestedAt"}
	}
	r := &runner{jsonOut: *jsonOut, timestamps: timestamps}
	for _, dir := range flag.Args() {
		if err := r.runDir(dir); err != nil {
			fmt.Fprintf(os.Stderr, "luarunner: %s: %v\n", dir, err)
			os.Exit(2)
		}
	}
	failed := 0
	for _, res := range r.results {
		if !res.OK {
			failed++
		}
	}
	fmt.Fprintf(os.Stderr, "luarunner: %d cases, %d failed\n", len(r.results), failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func (r *runner) runDir(dir string) error {
	ran := 0
	healthLua := filepath.Join(dir, "health.lua")
	if _, err := os.Stat(healthLua); err == nil {
		var tests healthTests
		if err := readYAML(filepath.Join(dir, "health_test.yaml"), &tests); err != nil {
			return err
		}
		if len(tests.Tests) == 0 {
			return errors.New("health_test.yaml has no tests")
		}
		script, err := ioutil.ReadFile(healthLua)
		if err != nil {
			return err
		}
		for _, t := range tests.Tests {
			r.report(r.health(dir, string(script), t.InputPath, t.HealthStatus))
			ran++
		}
	}
	actionsDir := filepath.Join(dir, "actions")
	if _, err := os.Stat(filepath.Join(actionsDir, "discovery.lua")); err == nil {
		var tests actionTests
		if err := readYAML(filepath.Join(actionsDir, "action_test.yaml"), &tests); err != nil {
			return err
		}
		if len(tests.DiscoveryTests) == 0 || len(tests.ActionTests) == 0 {
			return errors.New("actions/action_test.yaml needs discoveryTests and actionTests")
		}
		discovery, err := ioutil.ReadFile(filepath.Join(actionsDir, "discovery.lua"))
		if err != nil {
			return err
		}
		for _, t := range tests.DiscoveryTests {
			r.report(r.discovery(dir, string(discovery), t.InputPath, t.Result))
			ran++
		}
		for _, t := range tests.ActionTests {
			r.report(r.action(dir, t.Action, t.InputPath, t.ExpectedOutputPath))
			ran++
		}
	}
	if ran == 0 {
		return errors.New("neither health.lua nor actions/discovery.lua: not a resource customization directory")
	}
	return nil
}

func readYAML(path string, into interface{}) error {
	b, err := ioutil.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// readObject reads a Kubernetes object as Argo CD's tests do: YAML to JSON to map[string]interface{}.
func readObject(path string) (map[string]interface{}, error) {
	obj := map[string]interface{}{}
	if err := readYAML(path, &obj); err != nil {
		return nil, err
	}
	if len(obj) == 0 {
		return nil, fmt.Errorf("%s: no object", path)
	}
	return obj, nil
}

// run executes script with obj as the global obj, in a state set up as Argo CD sets up one for
// argocd-cm scripts, and returns the script's (first) return value as JSON-like Go data.
func run(script string, obj map[string]interface{}) (interface{}, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, fmt.Errorf("opening %q: %v", lib.name, err)
		}
	}
	safeOs := safeOsFunctions()
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOs))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("actionParams", l.NewTable())
	l.SetGlobal("obj", toLua(l, obj))

	top := l.GetTop()
	fn, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		var apiErr *lua.ApiError
		if errors.As(err, &apiErr) {
			return nil, fmt.Errorf("%v", apiErr.Object)
		}
		return nil, err
	}
	if l.GetTop() == top {
		return nil, nil
	}
	return fromLua(l.Get(top + 1))
}

// safeOsFunctions returns gopher-lua's own os.time and os.date, the only os functions Argo CD
// gives scripts.
func safeOsFunctions() map[string]lua.LGFunction {
	scratch := lua.NewState()
	defer scratch.Close()
	osTable := scratch.GetGlobal(lua.OsLibName).(*lua.LTable)
	funcs := map[string]lua.LGFunction{}
	for _, name := range []string{"time", "date"} {
		funcs[name] = osTable.RawGetString(name).(*lua.LFunction).GFunction
	}
	return funcs
}

func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetH(lua.LString(key), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// fromLua converts a Lua value as Argo CD's JSON encoding of Lua values does: an empty table is
// an empty array, a table with keys 1..n an array, a table with string keys an object; anything
// else (mixed or sparse keys, functions) is an error.
func fromLua(v lua.LValue) (interface{}, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		key, value := v.Next(lua.LNil)
		switch key.Type() {
		case lua.LTNil:
			return []interface{}{}, nil
		case lua.LTNumber:
			arr := []interface{}{}
			for want := 1; key != lua.LNil; want++ {
				n, ok := key.(lua.LNumber)
				if !ok {
					return nil, errors.New("cannot encode a table with mixed keys")
				}
				if float64(n) != float64(want) {
					return nil, errors.New("cannot encode a sparse array")
				}
				item, err := fromLua(value)
				if err != nil {
					return nil, err
				}
				arr = append(arr, item)
				key, value = v.Next(key)
			}
			return arr, nil
		case lua.LTString:
			obj := map[string]interface{}{}
			for key != lua.LNil {
				s, ok := key.(lua.LString)
				if !ok {
					return nil, errors.New("cannot encode a table with mixed keys")
				}
				item, err := fromLua(value)
				if err != nil {
					return nil, err
				}
				obj[string(s)] = item
				key, value = v.Next(key)
			}
			return obj, nil
		}
		return nil, fmt.Errorf("cannot encode a table with %s keys", key.Type())
	}
	return nil, fmt.Errorf("cannot encode a %s", v.Type())
}

// viaJSON re-reads v through encoding/json, as Argo CD does with script results.
func viaJSON(v interface{}, into interface{}) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func (r *runner) health(dir, script, input string, want healthStatus) result {
	res := result{Kind: "health", Dir: dir, Case: input}
	obj, err := readObject(filepath.Join(dir, input))
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	out, err := run(script, obj)
	if err != nil {
		res.Detail = "script error: " + err.Error()
		return res
	}
	var got healthStatus
	switch out.(type) {
	case nil:
	case []interface{}: // an empty table: Argo CD takes it as an empty health status
	case map[string]interface{}:
		if err := viaJSON(out, &got); err != nil {
			res.Detail = "health status: " + err.Error()
			return res
		}
		if !validHealth[got.Status] {
			got = healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}
		}
	default:
		res.Detail = fmt.Sprintf("the script returned %T, not a table", out)
		return res
	}
	res.OK = got == want
	if res.OK {
		res.Detail = fmt.Sprintf("%s %q", got.Status, got.Message)
	} else {
		res.Detail = fmt.Sprintf("got %s %q, want %s %q", got.Status, got.Message, want.Status, want.Message)
	}
	return res
}

func (r *runner) discovery(dir, script, input string, want []resourceAction) result {
	res := result{Kind: "discovery", Dir: dir, Case: input}
	obj, err := readObject(filepath.Join(dir, "actions", input))
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	out, err := run(script, obj)
	if err != nil {
		res.Detail = "script error: " + err.Error()
		return res
	}
	got := []resourceAction{}
	switch out := out.(type) {
	case []interface{}:
		if len(out) > 0 {
			res.Detail = "discovery returned an array, not a table of actions"
			return res
		}
	case map[string]interface{}:
		for name, value := range out {
			action := resourceAction{}
			if _, ok := value.(map[string]interface{}); ok {
				if err := viaJSON(value, &action); err != nil {
					res.Detail = fmt.Sprintf("action %s: %v", name, err)
					return res
				}
			}
			action.Name = name
			got = append(got, action)
		}
	default:
		res.Detail = fmt.Sprintf("the script returned %T, not a table", out)
		return res
	}
	sortActions := func(a []resourceAction) []resourceAction {
		b := append([]resourceAction{}, a...)
		sort.Slice(b, func(i, j int) bool { return b[i].Name < b[j].Name })
		return b
	}
	g, w := sortActions(got), sortActions(want)
	res.OK = reflect.DeepEqual(g, w) || (len(g) == 0 && len(w) == 0)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if res.OK {
		res.Detail = string(gb)
	} else {
		res.Detail = fmt.Sprintf("got %s, want %s", gb, wb)
	}
	return res
}

func (r *runner) action(dir, name, input, expectedPath string) result {
	res := result{Kind: "action", Dir: dir, Case: name + " " + input}
	actionsDir := filepath.Join(dir, "actions")
	script, err := ioutil.ReadFile(filepath.Join(actionsDir, name, "action.lua"))
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	obj, err := readObject(filepath.Join(actionsDir, input))
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	expected, err := readObject(filepath.Join(actionsDir, expectedPath))
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	before := time.Now().UTC().Truncate(time.Second)
	out, err := run(string(script), obj)
	after := time.Now().UTC()
	if err != nil {
		res.Detail = "script error: " + err.Error()
		return res
	}
	returned, ok := out.(map[string]interface{})
	if !ok {
		res.Detail = fmt.Sprintf("the action returned %T, not an object (a list of impacted resources is not supported here)", out)
		return res
	}
	var got map[string]interface{}
	if err := viaJSON(returned, &got); err != nil {
		res.Detail = err.Error()
		return res
	}
	got = restoreEmptyMaps(got, obj)

	var problems []string
	annotations, _ := nested(got, "metadata", "annotations").(map[string]interface{})
	wantAnnotations, _ := nested(expected, "metadata", "annotations").(map[string]interface{})
	for _, key := range r.timestamps {
		if wantAnnotations[key] == nil {
			continue
		}
		value, isString := annotations[key].(string)
		if !isString {
			problems = append(problems, fmt.Sprintf("metadata.annotations[%s]: got %v, want the current time", key, annotations[key]))
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05Z", value)
		switch {
		case !timestampFormat.MatchString(value) || err != nil:
			problems = append(problems, fmt.Sprintf("metadata.annotations[%s]: %q is not YYYY-MM-DDTHH:MM:SSZ", key, value))
		case at.Before(before) || at.After(after):
			problems = append(problems, fmt.Sprintf("metadata.annotations[%s]: %q is not the current UTC time (%s)", key, value, after.Format(time.RFC3339)))
		default:
			annotations[key] = wantAnnotations[key]
		}
	}
	problems = append(problems, differences("", expected, got)...)
	res.OK = len(problems) == 0
	if res.OK {
		res.Detail = "as " + expectedPath
	} else {
		res.Detail = strings.Join(problems, "; ")
	}
	return res
}

func nested(obj map[string]interface{}, path ...string) interface{} {
	var v interface{} = obj
	for _, key := range path {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// restoreEmptyMaps turns an empty array back into an empty map where the input object had a map:
// Lua cannot tell an empty map from an empty array, and Argo CD undoes that for patched objects.
func restoreEmptyMaps(out, in map[string]interface{}) map[string]interface{} {
	for key, newValue := range out {
		oldValue, ok := in[key]
		if !ok {
			continue
		}
		out[key] = restoreValue(newValue, oldValue)
	}
	return out
}

func restoreValue(newValue, oldValue interface{}) interface{} {
	switch n := newValue.(type) {
	case map[string]interface{}:
		if o, ok := oldValue.(map[string]interface{}); ok {
			return restoreEmptyMaps(n, o)
		}
	case []interface{}:
		switch o := oldValue.(type) {
		case map[string]interface{}:
			if len(n) == 0 {
				return map[string]interface{}{}
			}
		case []interface{}:
			for i := range n {
				if i < len(o) {
					n[i] = restoreValue(n[i], o[i])
				}
			}
		}
	}
	return newValue
}

// differences lists the paths at which got differs from want.
func differences(path string, want, got interface{}) []string {
	at := path
	if at == "" {
		at = "(object)"
	}
	switch w := want.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want %s", at, show(got), show(want))}
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			wv, inWant := w[k]
			gv, inGot := g[k]
			switch {
			case !inGot:
				out = append(out, fmt.Sprintf("%s: missing, want %s", sub, show(wv)))
			case !inWant:
				out = append(out, fmt.Sprintf("%s: got %s, want nothing", sub, show(gv)))
			default:
				out = append(out, differences(sub, wv, gv)...)
			}
		}
		return out
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %s, want %s", at, show(got), show(want))}
		}
		var out []string
		for i := range w {
			out = append(out, differences(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: got %s, want %s", at, show(got), show(want))}
	}
	return nil
}

func show(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
