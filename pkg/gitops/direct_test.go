package gitops

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

// directFixtures reads the YAML documents of a testdata/direct file.
func directFixtures(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "direct", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(b), "\n---\n") {
		m := directYAML(t, doc)
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

func directYAML(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	n, err := manifest.NormalizeValue(m)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := n.(map[string]any)
	return out
}

func directEdits(t *testing.T, ref kube.ObjectRef, fields ...FieldChange) []fieldEdit {
	t.Helper()
	e, err := parseEdits(ref, fields)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDirectApplyBody(t *testing.T) {
	deploy := directFixtures(t, "dot-owned.yaml")[0]
	svc := &unstructured.Unstructured{Object: directYAML(t, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  ports:
  - {port: 80, protocol: TCP, targetPort: 8080}
  - {port: 443, protocol: TCP, targetPort: 8443}
`)}
	custom := &unstructured.Unstructured{Object: directYAML(t, `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: prod}
spec:
  items:
  - {name: a, v: 1}
  - {name: b, v: 1}
`)}
	deployRef := &unstructured.Unstructured{Object: directYAML(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  template:
    spec:
      nodeSelector: {disk: ssd, zone: a}
      containers:
      - name: web
        image: nginx
        env:
        - name: LEVEL
          valueFrom:
            configMapKeyRef: {name: cfg, key: level, optional: true}
`)}
	svcSel := &unstructured.Unstructured{Object: directYAML(t, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  selector: {app: web, tier: front}
`)}
	cases := []struct {
		name  string
		live  *unstructured.Unstructured
		owned bool // start from what dot owns (managedFields)
		field FieldChange
		want  string // the body without apiVersion, kind, name, namespace
		err   string
	}{
		{name: "scalar", live: deploy, field: FieldChange{Path: "spec.replicas", Value: 5},
			want: `spec: {replicas: 5}`},
		{name: "container by position becomes keyed by name", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[0].image", Value: "nginx:3"},
			want:  `spec: {template: {spec: {containers: [{name: web, image: "nginx:3"}]}}}`},
		{name: "container by another field becomes keyed by name", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[image=busybox].image", Value: "busybox:2"},
			want:  `spec: {template: {spec: {containers: [{name: sidecar, image: "busybox:2"}]}}}`},
		{name: "new env var", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[name=web].env[name=NEW].value", Value: "x"},
			want:  `spec: {template: {spec: {containers: [{name: web, env: [{name: NEW, value: x}]}]}}}`},
		{name: "port by position carries both keys", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[name=web].ports[1].name", Value: "metrics"},
			want:  `spec: {template: {spec: {containers: [{name: web, ports: [{containerPort: 9090, protocol: TCP, name: metrics}]}]}}}`},
		{name: "new port gets the defaulted protocol key", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[name=web].ports[containerPort=7070].name", Value: "admin"},
			want:  `spec: {template: {spec: {containers: [{name: web, ports: [{containerPort: 7070, protocol: TCP, name: admin}]}]}}}`},
		{name: "atomic list is sent whole", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[name=web].args[1]", Value: "--c"},
			want:  `spec: {template: {spec: {containers: [{name: web, args: ["--a", "--c"]}]}}}`},
		{name: "whole new container", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[name=new]", Value: map[string]any{"image": "x"}},
			want:  `spec: {template: {spec: {containers: [{name: new, image: x}]}}}`},
		{name: "label with dots", live: deploy,
			field: FieldChange{Path: `metadata.labels["app.kubernetes.io/part-of"]`, Value: "shop"},
			want:  `metadata: {labels: {app.kubernetes.io/part-of: shop}}`},
		{name: "what dot applied before is kept", live: deploy, owned: true,
			field: FieldChange{Path: "spec.replicas", Value: 5},
			want: `
metadata: {labels: {tier: front}}
spec:
  replicas: 5
  template:
    spec:
      containers:
      - name: web
        image: "nginx:2"
        env: [{name: LEVEL, value: debug}]
        ports: [{containerPort: 8080, protocol: TCP, name: http}]`},
		{name: "service port by key", live: svc,
			field: FieldChange{Path: "spec.ports[port=443].targetPort", Value: 9443},
			want:  `spec: {ports: [{port: 443, protocol: TCP, targetPort: 9443}]}`},
		{name: "custom resource list is sent whole", live: custom,
			field: FieldChange{Path: "spec.items[name=b].v", Value: 2},
			want:  `spec: {items: [{name: a, v: 1}, {name: b, v: 2}]}`},
		{name: "atomic env source is sent whole", live: deployRef,
			field: FieldChange{Path: "spec.template.spec.containers[name=web].env[name=LEVEL].valueFrom.configMapKeyRef.name", Value: "cfg2"},
			want:  `spec: {template: {spec: {containers: [{name: web, env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: cfg2, key: level, optional: true}}}]}]}}}`},
		{name: "atomic selector is sent whole", live: deployRef,
			field: FieldChange{Path: "spec.template.spec.nodeSelector.disk", Value: "hdd"},
			want:  `spec: {template: {spec: {nodeSelector: {disk: hdd, zone: a}}}}`},
		{name: "service selector is sent whole", live: svcSel,
			field: FieldChange{Path: "spec.selector.app", Value: "web2"},
			want:  `spec: {selector: {app: web2, tier: front}}`},
		{name: "atomic map set whole is the value", live: svcSel,
			field: FieldChange{Path: "spec.selector", Value: map[string]any{"app": "x"}},
			want:  `spec: {selector: {app: x}}`},
		{name: "missing position", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[5].image", Value: "x"}, err: "no item [5]"},
		{name: "missing item by a field that is not the key", live: deploy,
			field: FieldChange{Path: "spec.template.spec.containers[image=nope].image", Value: "x"}, err: "not the list's key name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := kube.RefOf(tc.live)
			var base map[string]any
			if tc.owned {
				var err error
				if base, err = managerSubset(tc.live, DefaultFieldManager); err != nil {
					t.Fatal(err)
				}
			}
			body, err := applyBody(ref, tc.live.Object, base, directEdits(t, ref, tc.field))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if body["apiVersion"] != tc.live.GetAPIVersion() || body["kind"] != tc.live.GetKind() {
				t.Errorf("body type %v %v", body["apiVersion"], body["kind"])
			}
			md := body["metadata"].(map[string]any)
			if md["name"] != tc.live.GetName() || md["namespace"] != tc.live.GetNamespace() {
				t.Errorf("body metadata %v", md)
			}
			delete(body, "apiVersion")
			delete(body, "kind")
			delete(md, "name")
			delete(md, "namespace")
			if len(md) == 0 {
				delete(body, "metadata")
			}
			if want := directYAML(t, tc.want); !manifest.ValuesEqual(want, body) {
				got, _ := yaml.Marshal(body)
				w, _ := yaml.Marshal(want)
				t.Errorf("body:\n%s\nwant:\n%s", got, w)
			}
		})
	}
}

func TestDirectManagerSubset(t *testing.T) {
	live := directFixtures(t, "dot-owned.yaml")[0]
	got, err := managerSubset(live, "dot")
	if err != nil {
		t.Fatal(err)
	}
	want := directYAML(t, `
metadata: {labels: {tier: front}}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: "nginx:2"
        env: [{name: LEVEL, value: debug}]
        ports: [{containerPort: 8080, protocol: TCP, name: http}]`)
	if !manifest.ValuesEqual(want, got) {
		b, _ := yaml.Marshal(got)
		t.Errorf("subset:\n%s", b)
	}
	if got, err := managerSubset(live, "nobody"); err != nil || got != nil {
		t.Errorf("subset of a manager without fields = %v, %v", got, err)
	}
}

func TestDirectCheckExpectations(t *testing.T) {
	live := directFixtures(t, "dot-owned.yaml")[0]
	ref := kube.RefOf(live)
	cases := []struct {
		name  string
		field FieldChange
		err   string // "" for no conflict
	}{
		{"expected value", FieldChange{Path: "spec.replicas", Value: 5, Expect: 3}, ""},
		{"expected as a float", FieldChange{Path: "spec.replicas", Value: 5, Expect: 3.0}, ""},
		{"no expectation", FieldChange{Path: "spec.replicas", Value: 5}, ""},
		{"already the new value", FieldChange{Path: "spec.replicas", Value: 3, Expect: 2}, ""},
		{"other value", FieldChange{Path: "spec.replicas", Value: 5, Expect: 2}, "spec.replicas: expected 2, found 3"},
		{"expected absent", FieldChange{Path: "spec.paused", Value: true, ExpectAbsent: true}, ""},
		{"expected absent but set", FieldChange{Path: "spec.template.spec.containers[name=web].image", Value: "x", ExpectAbsent: true},
			`expected it unset, found "nginx:2"`},
		{"expected but absent", FieldChange{Path: "spec.template.spec.containers[name=web].env[name=NOPE].value", Value: "x", Expect: "y"},
			`expected "y", found <absent>`},
		{"delete what is gone", FieldChange{Path: "spec.paused", Delete: true, Expect: true}, ""},
		{"delete another value", FieldChange{Path: "spec.template.spec.containers[name=web].env[name=FOO].value", Delete: true, Expect: "2"},
			`expected "2", found "1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkExpectations(ref, live.Object, directEdits(t, ref, tc.field))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "prod/deployment.apps/web") {
				t.Errorf("err = %v, want ErrConflict saying %q", err, tc.err)
			}
		})
	}
}

func TestDirectParseEditsRefuses(t *testing.T) {
	ref := kube.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}
	for _, path := range []string{"metadata.name", "metadata.namespace", "kind", "status.replicas", "spec..x"} {
		if _, err := parseEdits(ref, []FieldChange{{Path: path, Value: "x"}}); err == nil {
			t.Errorf("%s: no error", path)
		}
	}
	if _, err := parseEdits(ref, []FieldChange{{Path: "spec.replicas"}}); err == nil || !strings.Contains(err.Error(), "no value") {
		t.Errorf("missing value: %v", err)
	}
}

func TestDirectReplacedFields(t *testing.T) {
	live := directFixtures(t, "dot-owned.yaml")[0]
	const gk = "apps/Deployment"
	cases := []struct {
		name  string
		path  string
		value string
		want  []string
	}{
		{"mapping replaced", "spec.template.spec.containers[name=web]", `{name: web, image: x, env: [{name: LEVEL, value: info}]}`,
			[]string{"spec.template.spec.containers[name=web].args",
				"spec.template.spec.containers[name=web].env[name=FOO]",
				"spec.template.spec.containers[name=web].ports"}},
		{"keyed list replaced", "spec.template.spec.containers", `[{name: web, image: x}]`,
			[]string{"spec.template.spec.containers[name=web].args", "spec.template.spec.containers[name=web].env",
				"spec.template.spec.containers[name=web].ports", "spec.template.spec.containers[name=sidecar]"}},
		{"scalar", "spec.replicas", `5`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := manifest.MustParseFieldPath(tc.path)
			cur, _ := manifest.GetField(live.Object, p)
			var v any
			if err := yaml.Unmarshal([]byte(tc.value), &v); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range replacedFields(gk, cur, v, p) {
				got = append(got, r.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDirectRemovalPatch(t *testing.T) {
	live := directFixtures(t, "dot-owned.yaml")[0]
	paths := []manifest.FieldPath{
		manifest.MustParseFieldPath("spec.template.spec.containers[name=web].env[name=FOO]"),
		// After FOO is gone, LEVEL is item 0.
		manifest.MustParseFieldPath("spec.template.spec.containers[name=web].env[name=LEVEL].value"),
		manifest.MustParseFieldPath(`metadata.labels["tier"]`),
		manifest.MustParseFieldPath("spec.paused"), // absent: skipped
		manifest.MustParseFieldPath(`metadata.annotations["a/b~c"]`),
	}
	live.SetAnnotations(map[string]string{"a/b~c": "x"})
	patch, removed, err := removalPatch(live, paths)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"test","path":"/metadata/resourceVersion","value":"42"},` +
		`{"op":"remove","path":"/spec/template/spec/containers/0/env/0"},` +
		`{"op":"remove","path":"/spec/template/spec/containers/0/env/0/value"},` +
		`{"op":"remove","path":"/metadata/labels/tier"},` +
		`{"op":"remove","path":"/metadata/annotations/a~1b~0c"}]`
	if string(patch) != want {
		t.Errorf("patch\n%s\nwant\n%s", patch, want)
	}
	if len(removed) != 4 {
		t.Errorf("removed %v", removed)
	}
	var ops []map[string]any
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := removalPatch(live, paths[3:4]); p != nil {
		t.Errorf("patch for absent fields only: %s", p)
	}
}

func TestDirectOrder(t *testing.T) {
	ch := func(action Action, group, kind, name string) Change {
		return Change{Action: action, Object: kube.ObjectRef{Group: group, Kind: kind, Name: name}}
	}
	changes := []Change{
		ch(ActionCreate, "networking.k8s.io", "Ingress", "web"),
		ch(ActionDelete, "", "ConfigMap", "old"),
		ch(ActionSet, "apps", "Deployment", "web"),
		ch(ActionCreate, "example.com", "Widget", "w"),
		ch(ActionCreate, "", "Service", "web"),
		ch(ActionDelete, "apps", "Deployment", "legacy"),
		ch(ActionCreate, "", "ConfigMap", "new"),
		ch(ActionCreate, "rbac.authorization.k8s.io", "RoleBinding", "rb"),
		ch(ActionCreate, "", "PersistentVolumeClaim", "data"),
		ch(ActionCreate, "", "Namespace", "prod"),
		ch(ActionCreate, "", "ServiceAccount", "sa"),
		ch(ActionCreate, "apiextensions.k8s.io", "CustomResourceDefinition", "widgets.example.com"),
		ch(ActionCreate, "gateway.networking.k8s.io", "HTTPRoute", "web"),
		ch(ActionDelete, "", "Namespace", "gone"),
	}
	var got []string
	for _, i := range orderChanges(changes) {
		got = append(got, string(changes[i].Action)+" "+changes[i].Object.Kind+"/"+changes[i].Object.Name)
	}
	want := []string{
		"Create CustomResourceDefinition/widgets.example.com",
		"Create Namespace/prod",
		"Create RoleBinding/rb",
		"Create ServiceAccount/sa",
		"Create ConfigMap/new",
		"Create PersistentVolumeClaim/data",
		"Set Deployment/web",
		"Create Service/web",
		"Create Ingress/web",
		"Create HTTPRoute/web",
		"Create Widget/w",
		"Delete Deployment/legacy",
		"Delete ConfigMap/old",
		"Delete Namespace/gone",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDirectManagedBy(t *testing.T) {
	objs := map[string]*unstructured.Unstructured{}
	for _, o := range directFixtures(t, "managedby.yaml") {
		objs[o.GetName()] = o
	}
	argoLabel := ArgoSettings{Installed: true, TrackingMethod: TrackingLabel, InstanceLabelKey: "app.kubernetes.io/instance"}
	argoDefault := ArgoSettings{Installed: true, InstanceLabelKey: "app.kubernetes.io/instance"}
	argoAnnotation := ArgoSettings{Installed: true, TrackingMethod: TrackingAnnotation, InstanceLabelKey: "app.kubernetes.io/instance"}
	cases := []struct {
		object string
		argo   ArgoSettings
		want   string
	}{
		{"argo-annotation", ArgoSettings{}, "Argo CD Application argocd/shop (annotation argocd.argoproj.io/tracking-id)"},
		{"argo-annotation-app-namespace", ArgoSettings{}, "Argo CD Application team-a/shop (annotation argocd.argoproj.io/tracking-id)"},
		{"argo-copied-annotation", argoAnnotation, ""},
		{"flux-kustomization", ArgoSettings{}, "Flux Kustomization flux-system/apps (labels kustomize.toolkit.fluxcd.io/{name,namespace})"},
		{"flux-helmrelease", ArgoSettings{}, "Flux HelmRelease prod/podinfo (labels helm.toolkit.fluxcd.io/{name,namespace})"},
		{"flux-half-label", ArgoSettings{}, ""},
		{"instance-label", argoLabel, "Argo CD Application shop (label app.kubernetes.io/instance, label tracking)"},
		{"instance-label", argoDefault, "Argo CD Application shop (label app.kubernetes.io/instance, label tracking)"},
		{"instance-label", argoAnnotation, ""},
		{"instance-label", ArgoSettings{}, ""}, // Argo CD not installed: a Helm label
		{"custom-instance-label", ArgoSettings{Installed: true, InstanceLabelKey: "argocd.example.com/app"},
			"Argo CD Application team-a/shop (label argocd.example.com/app, label tracking)"},
		{"kustomize-controller-fields", ArgoSettings{}, "Flux (field manager kustomize-controller in managedFields)"},
		{"argocd-controller-fields", ArgoSettings{}, "Argo CD (field manager argocd-controller in managedFields)"},
		{"status-only", ArgoSettings{}, ""},
		{"unmanaged", argoLabel, ""},
	}
	for _, tc := range cases {
		t.Run(tc.object, func(t *testing.T) {
			obj := objs[tc.object]
			if obj == nil {
				t.Fatalf("no fixture %s", tc.object)
			}
			if got := ManagedBy(obj, tc.argo); got != tc.want {
				t.Errorf("ManagedBy = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDirectRenderDiff(t *testing.T) {
	live := directFixtures(t, "dot-owned.yaml")[0]
	ref := kube.RefOf(live)
	after := manifest.DeepCopy(live.Object).(map[string]any)
	if _, err := manifest.SetField(after, manifest.MustParseFieldPath("spec.replicas"), int64(5)); err != nil {
		t.Fatal(err)
	}
	unstructured.SetNestedField(after, "43", "metadata", "resourceVersion")
	unstructured.SetNestedField(after, int64(5), "status", "replicas")
	got, err := renderDiff(ref, live.Object, after)
	if err != nil {
		t.Fatal(err)
	}
	want := `--- a/apps/v1/Deployment/prod/web
+++ b/apps/v1/Deployment/prod/web
@@ -7,7 +7,7 @@
   name: web
   namespace: prod
 spec:
-  replicas: 3
+  replicas: 5
   selector:
     matchLabels:
       app: web
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d, _ := renderDiff(ref, live.Object, live.Object); d != "" {
		t.Errorf("diff of equal objects:\n%s", d)
	}
	gone, _ := renderDiff(ref, live.Object, nil)
	if !strings.HasPrefix(gone, "--- a/apps/v1/Deployment/prod/web\n+++ /dev/null\n") || strings.Contains(gone, "managedFields") || strings.Contains(gone, "status") {
		t.Errorf("deletion diff:\n%s", gone)
	}

	secret := directYAML(t, `{apiVersion: v1, kind: Secret, metadata: {name: s, namespace: prod}, data: {same: YQ==, changed: Yg==, gone: Yw==}}`)
	secret2 := directYAML(t, `{apiVersion: v1, kind: Secret, metadata: {name: s, namespace: prod}, data: {same: YQ==, changed: Yw==, added: ZA==}}`)
	sref := kube.ObjectRef{Version: "v1", Kind: "Secret", Namespace: "prod", Name: "s"}
	d, err := renderDiff(sref, secret, secret2)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"YQ==", "Yg==", "Yw==", "ZA=="} {
		if strings.Contains(d, leak) {
			t.Errorf("secret diff shows %s:\n%s", leak, d)
		}
	}
	for _, line := range []string{"-  changed: '*** (before)'", "+  changed: '*** (after)'", "+  added: '***'", "-  gone: '***'", "   same: '***'"} {
		if !strings.Contains(d, line+"\n") {
			t.Errorf("secret diff lacks %q:\n%s", line, d)
		}
	}
	created, _ := renderDiff(sref, nil, secret2)
	if strings.Contains(created, "ZA==") || !strings.HasPrefix(created, "--- /dev/null\n") {
		t.Errorf("secret create diff:\n%s", created)
	}
	if secret2["data"].(map[string]any)["added"] != "ZA==" {
		t.Error("renderDiff modified its input")
	}
}

func TestDirectUnexpectedChanges(t *testing.T) {
	live := directFixtures(t, "dot-owned.yaml")[0]
	const gk = "apps/Deployment"
	touched := []manifest.FieldPath{manifest.MustParseFieldPath("spec.template.spec.containers[name=web].image")}
	expected := manifest.DeepCopy(live.Object).(map[string]any)
	manifest.SetField(expected, touched[0], "nginx:3")

	// The server also dropped the sidecar and env FOO (a list treated as one
	// value), and a webhook changed a label.
	post := manifest.DeepCopy(expected).(map[string]any)
	post = manifest.DeleteField(post, manifest.MustParseFieldPath("spec.template.spec.containers[name=sidecar]")).(map[string]any)
	post = manifest.DeleteField(post, manifest.MustParseFieldPath("spec.template.spec.containers[name=web].env[name=FOO]")).(map[string]any)
	manifest.SetField(post, manifest.MustParseFieldPath("metadata.labels.tier"), "back")
	// Changes inside the touched field and server metadata do not count.
	manifest.SetField(post, touched[0], "nginx:3@sha256:abc")
	manifest.SetField(post, manifest.MustParseFieldPath("metadata.resourceVersion"), "99")

	lost, changed := unexpectedChanges(gk, expected, post, touched)
	wantLost := []string{
		"spec.template.spec.containers[name=web].env[name=FOO].name",
		"spec.template.spec.containers[name=web].env[name=FOO].value",
		"spec.template.spec.containers[name=sidecar].image",
		"spec.template.spec.containers[name=sidecar].name",
	}
	if !reflect.DeepEqual(lost, wantLost) {
		t.Errorf("lost %q\nwant %q", lost, wantLost)
	}
	if want := []string{`metadata.labels.tier ("front" -> "back")`}; !reflect.DeepEqual(changed, want) {
		t.Errorf("changed %q, want %q", changed, want)
	}
	if lost, changed := unexpectedChanges(gk, expected, expected, touched); lost != nil || changed != nil {
		t.Errorf("same objects: lost %q changed %q", lost, changed)
	}
}
