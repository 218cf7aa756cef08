package gitops

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dot-ai/dot/pkg/gitops/manifest"
	"github.com/dot-ai/dot/pkg/kube"
)

// The pure half of the direct path: from a live object and a Set change to
// the server-side apply body and the fields to remove by JSON patch.

// fieldEdit is one parsed FieldChange.
type fieldEdit struct {
	path   manifest.FieldPath
	value  any // JSON model
	delete bool
	raw    FieldChange
}

// parseEdits parses and normalizes the fields of a Set.
func parseEdits(ref kube.ObjectRef, fields []FieldChange) ([]fieldEdit, error) {
	out := make([]fieldEdit, 0, len(fields))
	for _, f := range fields {
		p, err := manifest.ParseFieldPath(f.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		if len(p) > 0 && p[0].IsKey() && (p[0].Key == "apiVersion" || p[0].Key == "kind" || p[0].Key == "status" ||
			(p[0].Key == "metadata" && (len(p) < 2 || !p[1].IsKey() || (p[1].Key != "labels" && p[1].Key != "annotations")))) {
			return nil, fmt.Errorf("%s: field %s cannot be changed by server-side apply (only metadata.labels, metadata.annotations and the object's spec and data)", ref, f.Path)
		}
		v, err := manifest.NormalizeValue(f.Value)
		if err != nil {
			return nil, fmt.Errorf("%s field %s: %w", ref, f.Path, err)
		}
		if !f.Delete && v == nil {
			return nil, fmt.Errorf("%s field %s: no value (set Delete to remove the field)", ref, f.Path)
		}
		out = append(out, fieldEdit{path: p, value: v, delete: f.Delete, raw: f})
	}
	return out, nil
}

// checkExpectations is the compare-and-swap of a Set against the live
// object: a field whose live value is neither the expected one nor the one
// the change writes fails with ErrConflict.
func checkExpectations(ref kube.ObjectRef, live map[string]any, edits []fieldEdit) error {
	for _, e := range edits {
		f := e.raw
		if f.Expect == nil && !f.ExpectAbsent {
			continue
		}
		cur, present := manifest.GetField(live, e.path)
		if editDone(e, cur, present) {
			continue // already the wanted state: idempotent retry
		}
		switch {
		case f.ExpectAbsent && present:
			return fmt.Errorf("%w: %s field %s: expected it unset, found %s", ErrConflict, ref, f.Path, showValue(cur, true))
		case f.ExpectAbsent:
		default:
			want, err := manifest.NormalizeValue(f.Expect)
			if err != nil {
				return fmt.Errorf("%s field %s: expect: %w", ref, f.Path, err)
			}
			if !present || !manifest.ValuesEqual(want, cur) {
				return fmt.Errorf("%w: %s field %s: expected %s, found %s", ErrConflict, ref, f.Path, showValue(want, true), showValue(cur, present))
			}
		}
	}
	return nil
}

// editDone reports whether the live value already is what the edit wants.
func editDone(e fieldEdit, cur any, present bool) bool {
	if e.delete {
		return !present
	}
	return present && manifest.ValuesEqual(e.value, cur)
}

func showValue(v any, present bool) string {
	if !present {
		return "<absent>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// listKeys returns the fields that identify items of the list at p (whose
// last element is the list's field name) in a built-in object of the given
// kind, as server-side apply merges them (x-kubernetes-list-map-keys). nil
// means the list is treated as atomic: dot then sends it whole, which is
// right for atomic lists and still correct (if broader) for keyed lists of
// custom resources whose schema dot does not know.
func listKeys(gk string, p manifest.FieldPath) []string {
	if len(p) == 0 || !p[len(p)-1].IsKey() || !builtinPodKinds[gk] && gk != "Service" {
		return nil
	}
	name := p[len(p)-1].Key
	inContainer := len(p) >= 2 && !p[len(p)-2].IsKey() && len(p) >= 3 && p[len(p)-3].IsKey() &&
		containerLists[p[len(p)-3].Key]
	if gk == "Service" {
		if name == "ports" && len(p) == 2 && p[0].Key == "spec" {
			return []string{"port", "protocol"}
		}
		return nil
	}
	if inContainer {
		switch name {
		case "env":
			return []string{"name"}
		case "volumeMounts":
			return []string{"mountPath"}
		case "volumeDevices":
			return []string{"devicePath"}
		case "ports":
			return []string{"containerPort", "protocol"}
		case "resizePolicy":
			return []string{"resourceName"}
		}
		return nil
	}
	// Pod spec lists: the parent is a key named "spec".
	if len(p) >= 2 && p[len(p)-2].IsKey() && p[len(p)-2].Key == "spec" {
		switch name {
		case "containers", "initContainers", "ephemeralContainers", "volumes", "imagePullSecrets",
			"resourceClaims", "schedulingGates":
			return []string{"name"}
		case "hostAliases":
			return []string{"ip"}
		case "topologySpreadConstraints":
			return []string{"topologyKey", "whenUnsatisfiable"}
		}
	}
	return nil
}

var containerLists = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true}

// builtinPodKinds are the built-in kinds with a pod template (keyed by
// "<group>/<kind>" without version; core is "/").
var builtinPodKinds = map[string]bool{
	"apps/Deployment": true, "apps/StatefulSet": true, "apps/DaemonSet": true, "apps/ReplicaSet": true,
	"batch/Job": true, "batch/CronJob": true, "/Pod": true, "/PodTemplate": true, "/ReplicationController": true,
}

// gkKey renders a group and kind as listKeys expects; the Service check
// there needs the core group.
func gkKey(ref kube.ObjectRef) string {
	if ref.Group == "" && ref.Kind == "Service" {
		return "Service"
	}
	return ref.Group + "/" + ref.Kind
}

// defaultKeys are list-map key fields the API server defaults; an item dot
// adds without them would not merge with the defaulted live item.
var defaultKeys = map[string]any{"protocol": "TCP"}

// applyBody builds the server-side apply body of a Set: the fields dot
// already owns (base, extracted from the live object's managedFields, so
// that applying does not remove them) plus the edits' new values. Lists the
// server merges by key get single items holding their key fields; other
// lists are copied whole from the live object and edited.
func applyBody(ref kube.ObjectRef, live map[string]any, base map[string]any, edits []fieldEdit) (map[string]any, error) {
	body := base
	if body == nil {
		body = map[string]any{}
	}
	body["apiVersion"] = live["apiVersion"]
	body["kind"] = live["kind"]
	md, _ := body["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		body["metadata"] = md
	}
	lmd, _ := live["metadata"].(map[string]any)
	md["name"] = lmd["name"]
	if ns, ok := lmd["namespace"]; ok {
		md["namespace"] = ns
	}
	gk := gkKey(ref)
	copied := map[string]bool{}
	for _, e := range edits {
		if e.delete {
			continue
		}
		if err := setInBody(gk, body, live, e.path, e.value, copied); err != nil {
			return nil, fmt.Errorf("%s field %s: %w", ref, e.path, err)
		}
	}
	return body, nil
}

// setInBody sets p to v in body, translating list elements as applyBody
// describes. copied records the atomic lists already copied from live.
func setInBody(gk string, body, live map[string]any, p manifest.FieldPath, v any, copied map[string]bool) error {
	var out manifest.FieldPath // p as written into body
	var cur any = live
	type keyField struct {
		path manifest.FieldPath
		val  any
	}
	var keyFields []keyField
	for i, e := range p {
		if e.IsKey() {
			out = append(out, e)
			if m, ok := cur.(map[string]any); ok {
				cur = m[e.Key]
			} else {
				cur = nil
			}
			if m, ok := cur.(map[string]any); ok && i < len(p)-1 && atomicMap(p[:i+1]) && !copied[out.String()] {
				// An atomic struct or map is replaced whole by an apply:
				// send it whole, from live, with the edit inside it.
				if _, err := manifest.SetField(body, out, manifest.DeepCopy(m)); err != nil {
					return err
				}
				copied[out.String()] = true
			}
			continue
		}
		keys := listKeys(gk, p[:i])
		list, _ := cur.([]any)
		if keys == nil {
			// Atomic (or unknown) list: send it whole, edited in place. The
			// live list replaces what the base holds: for a keyed list of a
			// custom resource the base may hold only dot's items, and
			// positions must mean what they mean in the live object.
			if !copied[out.String()] {
				cp := manifest.DeepCopy(list)
				if list == nil {
					cp = []any{}
				}
				if _, err := manifest.SetField(body, out, cp); err != nil {
					return err
				}
				copied[out.String()] = true
			}
			out = append(out, p[i:]...)
			v = manifest.DeepCopy(v)
			if _, err := manifest.SetField(body, out, v); err != nil {
				return err
			}
			return nil
		}
		idx := itemIndex(list, e)
		var ident map[string]any
		switch {
		case idx >= 0:
			item, _ := list[idx].(map[string]any)
			ident = map[string]any{}
			for _, k := range keys {
				if kv, ok := item[k]; ok {
					ident[k] = kv
				}
			}
			cur = item
		case e.IsIndex():
			return fmt.Errorf("no item [%d] in the live object", e.Index)
		default:
			ident = map[string]any{e.MatchKey: matchValue(e.MatchValue)}
			if e.MatchKey != keys[0] {
				return fmt.Errorf("no item [%s=%s] in the live object, and %s is not the list's key %s", e.MatchKey, e.MatchValue, e.MatchKey, keys[0])
			}
			if i == len(p)-1 {
				if m, ok := v.(map[string]any); ok {
					for _, k := range keys {
						if kv, ok := m[k]; ok {
							ident[k] = kv
						}
					}
				}
			}
			for _, k := range keys {
				if _, ok := ident[k]; !ok {
					if d, ok := defaultKeys[k]; ok {
						ident[k] = d
					}
				}
			}
			cur = nil
		}
		first, ok := ident[keys[0]]
		if !ok {
			return fmt.Errorf("list item %s has no key field %s", e2s(e), keys[0])
		}
		s, _ := scalarString(first)
		out = append(out, manifest.Match(keys[0], s))
		for _, k := range keys {
			if kv, ok := ident[k]; ok {
				keyFields = append(keyFields, keyField{append(append(manifest.FieldPath{}, out...), manifest.Key(k)), kv})
			}
		}
	}
	if _, err := manifest.SetField(body, out, manifest.DeepCopy(v)); err != nil {
		return err
	}
	// Key fields last: setting a whole item would drop them otherwise.
	for _, kf := range keyFields {
		if _, err := manifest.SetField(body, kf.path, kf.val); err != nil {
			return err
		}
	}
	return nil
}

// atomicMap reports whether the map at p (ending in a key) is atomic for
// server-side apply (x-kubernetes-map-type: atomic): an apply that sets one
// field inside it replaces all of it, so the body must carry all of it. These
// are the selectors and references of the built-in types; for a custom
// resource whose schema dot does not know, sending a selector whole is still
// correct, if broader.
func atomicMap(p manifest.FieldPath) bool {
	if len(p) == 0 {
		return false
	}
	name := p[len(p)-1].Key
	if atomicSelectors[name] {
		return true
	}
	return len(p) >= 2 && p[len(p)-2].IsKey() && p[len(p)-2].Key == "valueFrom" && atomicEnvSources[name]
}

var (
	atomicSelectors  = map[string]bool{"selector": true, "labelSelector": true, "namespaceSelector": true, "podSelector": true, "nodeSelector": true}
	atomicEnvSources = map[string]bool{"configMapKeyRef": true, "secretKeyRef": true, "fieldRef": true, "resourceFieldRef": true, "fileKeyRef": true}
)

func e2s(e manifest.PathElem) string { return manifest.FieldPath{e}.String() }

// matchValue types the value of a [key=value] selector for a new item:
// numbers stay numbers (containerPort=8080).
func matchValue(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
		return n
	}
	return s
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// itemIndex returns the position of the item e selects in l, or -1.
func itemIndex(l []any, e manifest.PathElem) int {
	if e.IsIndex() {
		if e.Index < len(l) {
			return e.Index
		}
		return -1
	}
	for i, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if s, ok := scalarString(m[e.MatchKey]); ok && s == e.MatchValue {
			return i
		}
	}
	return -1
}

// replacedFields lists the fields of the live value at p that setting the
// new value v removes: a Set replaces a mapping, while server-side apply
// would merge into it. Keyed lists of built-in kinds are compared by key;
// other lists are sent whole and replace the live list themselves.
func replacedFields(gk string, live, v any, p manifest.FieldPath) []manifest.FieldPath {
	var out []manifest.FieldPath
	switch lv := live.(type) {
	case map[string]any:
		nv, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		keys := make([]string, 0, len(lv))
		for k := range lv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := p.Append(manifest.Key(k))
			if nvk, ok := nv[k]; ok {
				out = append(out, replacedFields(gk, lv[k], nvk, sub)...)
			} else {
				out = append(out, sub)
			}
		}
	case []any:
		nl, ok := v.([]any)
		keys := listKeys(gk, p)
		if !ok || keys == nil {
			return nil
		}
		for _, it := range lv {
			item, ok := it.(map[string]any)
			if !ok {
				continue
			}
			s, ok := scalarString(item[keys[0]])
			if !ok {
				continue
			}
			sel := manifest.Match(keys[0], s)
			j := itemIndex(nl, sel)
			if j < 0 {
				out = append(out, p.Append(sel))
				continue
			}
			out = append(out, replacedFields(gk, item, nl[j], p.Append(sel))...)
		}
	}
	return out
}

// jsonPointer resolves p in obj to an RFC 6901 pointer (list items by
// position); false when the field does not exist.
func jsonPointer(obj any, p manifest.FieldPath) (string, bool) {
	var b strings.Builder
	cur := obj
	for _, e := range p {
		if e.IsKey() {
			m, ok := cur.(map[string]any)
			if !ok {
				return "", false
			}
			v, ok := m[e.Key]
			if !ok {
				return "", false
			}
			b.WriteByte('/')
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(e.Key, "~", "~0"), "/", "~1"))
			cur = v
			continue
		}
		l, ok := cur.([]any)
		if !ok {
			return "", false
		}
		i := itemIndex(l, e)
		if i < 0 {
			return "", false
		}
		fmt.Fprintf(&b, "/%d", i)
		cur = l[i]
	}
	return b.String(), true
}

// removalPatch builds a JSON patch that removes paths from obj, guarded by a
// test of the resourceVersion obj was read at (the compare-and-swap of the
// removal). Paths that do not exist are skipped; list positions account for
// earlier removals. It returns nil when nothing is to be removed.
func removalPatch(obj *unstructured.Unstructured, paths []manifest.FieldPath) ([]byte, []manifest.FieldPath, error) {
	work := manifest.DeepCopy(obj.Object)
	ops := []map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": obj.GetResourceVersion()}}
	var removed []manifest.FieldPath
	for _, p := range paths {
		ptr, ok := jsonPointer(work, p)
		if !ok {
			continue
		}
		ops = append(ops, map[string]any{"op": "remove", "path": ptr})
		work = manifest.DeleteField(work, p)
		removed = append(removed, p)
	}
	if len(removed) == 0 {
		return nil, nil, nil
	}
	b, err := json.Marshal(ops)
	return b, removed, err
}

// ownedSubset returns the parts of obj named by a managedFields FieldsV1
// set: what one field manager applied. Applying again without those fields
// would make the server remove them, so dot re-sends them with their live
// values alongside a new change.
func ownedSubset(obj any, set map[string]any) any {
	children := 0
	for k := range set {
		if k != "." {
			children++
		}
	}
	if children == 0 {
		return manifest.DeepCopy(obj)
	}
	switch x := obj.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range set {
			name, ok := strings.CutPrefix(k, "f:")
			if !ok {
				continue
			}
			v, ok := x[name]
			if !ok {
				continue
			}
			ss, _ := sub.(map[string]any)
			out[name] = ownedSubset(v, ss)
		}
		return out
	case []any:
		var out []any
		for i, it := range x {
			for k, sub := range set {
				ss, _ := sub.(map[string]any)
				if ownsItem(k, i, it) {
					v := ownedSubset(it, ss)
					if k[0] == 'k' {
						// Key fields identify the item for the merge.
						var keys map[string]any
						_ = json.Unmarshal([]byte(k[2:]), &keys)
						if m, ok := v.(map[string]any); ok {
							for kk := range keys {
								if kv, ok := it.(map[string]any)[kk]; ok {
									m[kk] = kv
								}
							}
						}
					}
					out = append(out, v)
					break
				}
			}
		}
		if out == nil {
			out = []any{}
		}
		return out
	}
	return manifest.DeepCopy(obj)
}

// ownsItem reports whether the FieldsV1 key k (k:{...}, v:..., i:n) names
// list item i with value it.
func ownsItem(k string, i int, it any) bool {
	switch {
	case strings.HasPrefix(k, "k:"):
		var keys map[string]any
		if json.Unmarshal([]byte(k[2:]), &keys) != nil {
			return false
		}
		m, ok := it.(map[string]any)
		if !ok {
			return false
		}
		for kk, kv := range keys {
			nv, _ := manifest.NormalizeValue(kv)
			if !manifest.ValuesEqual(nv, m[kk]) {
				return false
			}
		}
		return true
	case strings.HasPrefix(k, "v:"):
		var v any
		if json.Unmarshal([]byte(k[2:]), &v) != nil {
			return false
		}
		nv, _ := manifest.NormalizeValue(v)
		return manifest.ValuesEqual(nv, it)
	case strings.HasPrefix(k, "i:"):
		n, err := strconv.Atoi(k[2:])
		return err == nil && n == i
	}
	return false
}

// managerSubset returns what manager applied (operation Apply, main
// resource) to obj, without metadata other than labels and annotations;
// nil when it applied nothing.
func managerSubset(obj *unstructured.Unstructured, manager string) (map[string]any, error) {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != manager || mf.Operation != "Apply" || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &set); err != nil {
			return nil, fmt.Errorf("read managedFields of %s for %s: %w", kube.RefOf(obj), manager, err)
		}
		sub, _ := ownedSubset(obj.Object, set).(map[string]any)
		if sub == nil {
			return nil, nil
		}
		if md, ok := sub["metadata"].(map[string]any); ok {
			for k := range md {
				if k != "labels" && k != "annotations" {
					delete(md, k)
				}
			}
		}
		delete(sub, "status")
		return sub, nil
	}
	return nil, nil
}

// canonicalPath rewrites p the way unexpectedChanges addresses fields:
// items of keyed lists by their first key, and an atomic list as a whole
// (the path stops at the list).
func canonicalPath(gk string, live any, p manifest.FieldPath) manifest.FieldPath {
	var out manifest.FieldPath
	cur := live
	for i, e := range p {
		if e.IsKey() {
			out = append(out, e)
			m, _ := cur.(map[string]any)
			cur = m[e.Key]
			continue
		}
		keys := listKeys(gk, p[:i])
		if keys == nil {
			return out
		}
		l, _ := cur.([]any)
		j := itemIndex(l, e)
		if j < 0 {
			return append(out, p[i:]...)
		}
		item, _ := l[j].(map[string]any)
		s, _ := scalarString(item[keys[0]])
		out = append(out, manifest.Match(keys[0], s))
		cur = item
	}
	return out
}

// walkLeaves calls fn with every leaf of v: scalars, empty collections, and
// lists that cannot be addressed by a key (whole). Keyed lists of built-in
// kinds are addressed by their key, other lists of uniquely named items by
// name.
func walkLeaves(gk string, v any, p manifest.FieldPath, fn func(manifest.FieldPath, any)) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			fn(p, v)
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkLeaves(gk, x[k], p.Append(manifest.Key(k)), fn)
		}
	case []any:
		key := "name"
		if keys := listKeys(gk, p); keys != nil {
			key = keys[0]
		}
		seen := map[string]bool{}
		for _, it := range x {
			m, ok := it.(map[string]any)
			s, sok := scalarString(m[key])
			if !ok || !sok || seen[s] {
				fn(p, v)
				return
			}
			seen[s] = true
		}
		if len(x) == 0 {
			fn(p, v)
			return
		}
		for _, it := range x {
			s, _ := scalarString(it.(map[string]any)[key])
			walkLeaves(gk, it, p.Append(manifest.Match(key, s)), fn)
		}
	default:
		fn(p, v)
	}
}

// unexpectedChanges compares the locally expected result of a Set with the
// server's dry-run answer outside the touched fields: lost are fields the
// apply would remove (dot got a list's or map's merge semantics wrong: a
// refusal), changed are values the server sets otherwise (defaulting,
// admission webhooks: a warning). Server-maintained metadata and status
// are ignored.
func unexpectedChanges(gk string, expected, post map[string]any, touched []manifest.FieldPath) (lost, changed []string) {
	exp, got := diffView(expected), diffView(post)
	walkLeaves(gk, exp, nil, func(p manifest.FieldPath, v any) {
		for _, t := range touched {
			if p.HasPrefix(t) || t.HasPrefix(p) {
				return
			}
		}
		gv, ok := manifest.GetField(got, p)
		switch {
		case !ok && !isEmptyCollection(v):
			lost = append(lost, p.String())
		case !ok || !manifest.ValuesEqual(v, gv):
			changed = append(changed, fmt.Sprintf("%s (%s -> %s)", p, showValue(v, true), showValue(gv, ok)))
		}
	})
	return lost, changed
}

func isEmptyCollection(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
