package manifest

// Exported wrappers over the package's helpers for the JSON data model
// (map[string]any, []any, int64, float64, string, bool, nil), for callers
// that edit live objects rather than files (the direct, server-side apply
// path of package gitops).

// GetField returns the value at p in obj, and whether it exists. A
// [key=value] element selects the first list item whose key field has that
// scalar value; an [i] element selects by position.
func GetField(obj any, p FieldPath) (any, bool) { return getPath(obj, p) }

// SetField sets p to v in obj and returns the new root (obj itself when it
// is a mapping). Missing mappings are created; a missing [key=value] item is
// appended with its key field set (numbers typed as integers:
// ports[containerPort=8080]); a missing [i] item is an error. obj is
// modified in place and v is stored as is (not copied).
func SetField(obj any, p FieldPath, v any) (any, error) { return setPathModel(obj, p, v) }

// DeleteField removes p from obj and returns the new root. A missing field
// is not an error; a collection emptied by the removal stays, empty. obj is
// modified in place, except that removing a list item builds a new list.
func DeleteField(obj any, p FieldPath) any { return deletePathModel(obj, p) }

// DeepCopy copies a JSON-model value.
func DeepCopy(v any) any { return deepCopy(v) }

// NormalizeValue converts a Go value (int, int32, structs, ...) into the
// JSON data model; integral floats become int64.
func NormalizeValue(v any) (any, error) { return normalizeValue(v) }

// ValuesEqual compares two values of the JSON data model, treating integral
// floats and ints as equal.
func ValuesEqual(a, b any) bool { return valuesEqual(a, b) }

// UnifiedDiff renders a unified diff (3 lines of context) of a and b under
// the name a/<name>, b/<name>; nil a or b is /dev/null. Equal inputs give "".
func UnifiedDiff(name string, a, b []byte) string { return unifiedDiff(name, a, b) }
