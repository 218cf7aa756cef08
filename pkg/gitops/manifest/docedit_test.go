package manifest

import (
	"testing"
)

func TestEditBytes(t *testing.T) {
	cases := []struct {
		name string
		src  string
		doc  int
		ops  []fieldOp
		want string
	}{
		{
			name: "scalar keeps trailing comment",
			src:  "spec:\n  replicas: 2 # scaled by hand\n  x: y\n",
			ops:  []fieldOp{{path: MustParseFieldPath("spec.replicas"), value: int64(5)}},
			want: "spec:\n  replicas: 5 # scaled by hand\n  x: y\n",
		},
		{
			name: "double quoted kept",
			src:  "a:\n  image: \"nginx:1.0\"\n",
			ops:  []fieldOp{{path: MustParseFieldPath("a.image"), value: "nginx:1.2"}},
			want: "a:\n  image: \"nginx:1.2\"\n",
		},
		{
			name: "single quoted kept",
			src:  "a: 'x' # c\n",
			ops:  []fieldOp{{path: MustParseFieldPath("a"), value: "it's"}},
			want: "a: 'it''s' # c\n",
		},
		{
			name: "unsafe plain quoted",
			src:  "a: x\nb: y\n",
			ops:  []fieldOp{{path: MustParseFieldPath("a"), value: "1.20"}, {path: MustParseFieldPath("b"), value: "yes"}},
			want: "a: \"1.20\"\nb: \"yes\"\n",
		},
		{
			name: "insert key in nested mapping",
			src:  "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx # pinned\n      - name: side\n        image: busybox\n",
			ops:  []fieldOp{{path: MustParseFieldPath("spec.template.spec.containers[name=web].resources.limits.cpu"), value: "500m"}},
			want: "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx # pinned\n        resources:\n          limits:\n            cpu: 500m\n      - name: side\n        image: busybox\n",
		},
		{
			name: "append list item",
			src:  "env:\n  - name: A\n    value: \"1\"\nother: x\n",
			ops:  []fieldOp{{path: MustParseFieldPath("env[name=B].value"), value: "2"}},
			want: "env:\n  - name: A\n    value: \"1\"\n  - name: B\n    value: \"2\"\nother: x\n",
		},
		{
			name: "delete item and key",
			src:  "env:\n  - name: A\n    value: \"1\"\n  - name: B # b\n    value: \"2\"\nother: x\nlast: y\n",
			ops:  []fieldOp{{path: MustParseFieldPath("env[name=A]"), del: true}, {path: MustParseFieldPath("other"), del: true}},
			want: "env:\n  - name: B # b\n    value: \"2\"\nlast: y\n",
		},
		{
			name: "delete first key on dash line",
			src:  "l:\n- name: a\n  v: 1\n",
			ops:  []fieldOp{{path: MustParseFieldPath("l[0].name"), del: true}},
			want: "l:\n- v: 1\n",
		},
		{
			name: "delete only key",
			src:  "m:\n  k: v # c\nn: 1\n",
			ops:  []fieldOp{{path: MustParseFieldPath("m.k"), del: true}},
			want: "m: {} # c\nn: 1\n",
		},
		{
			name: "multi doc second",
			src:  "# head\na: 1\n---\n# second\nb: 2\n",
			doc:  1,
			ops:  []fieldOp{{path: MustParseFieldPath("b"), value: int64(3)}},
			want: "# head\na: 1\n---\n# second\nb: 3\n",
		},
		{
			name: "flow mapping insert",
			src:  "labels: {a: b}\n",
			ops:  []fieldOp{{path: MustParseFieldPath("labels.c"), value: "d"}},
			want: "labels: {a: b, c: d}\n",
		},
		{
			name: "null value becomes mapping",
			src:  "metadata:\n  annotations:\n  name: x\n",
			ops:  []fieldOp{{path: MustParseFieldPath("metadata.annotations.a"), value: "b"}},
			want: "metadata:\n  annotations:\n    a: b\n  name: x\n",
		},
		{
			name: "literal block value",
			src:  "data:\n  f: |\n    line1\n    line2\n  g: x\n",
			ops:  []fieldOp{{path: MustParseFieldPath("data.f"), value: "one\ntwo\n"}},
			want: "data:\n  f: |\n    one\n    two\n  g: x\n",
		},
		{
			name: "crlf",
			src:  "a:\r\n  b: 1\r\n",
			ops:  []fieldOp{{path: MustParseFieldPath("a.c"), value: int64(2)}},
			want: "a:\r\n  b: 1\r\n  c: 2\r\n",
		},
		{
			name: "unicode column",
			src:  "a: \"é\"\nb: é # x\n",
			ops:  []fieldOp{{path: MustParseFieldPath("b"), value: "ü"}},
			want: "a: \"é\"\nb: ü # x\n",
		},
		{
			name: "inline patch",
			src:  "patches:\n- patch: |-\n    kind: Deployment\n    spec:\n      replicas: 2\n  target:\n    kind: Deployment\n",
			ops:  nil,
			want: "patches:\n- patch: |-\n    kind: Deployment\n    spec:\n      replicas: 2\n  target:\n    kind: Deployment\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := editBytes("x.yaml", []byte(tc.src), docRef{doc: tc.doc}, tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestEditEmbedded(t *testing.T) {
	src := "patches:\n- patch: |-\n    kind: Deployment\n    spec:\n      replicas: 2 # c\n  target:\n    kind: Deployment\n"
	ref := docRef{doc: 0, embed: MustParseFieldPath("patches[0].patch")}
	got, err := editBytes("k.yaml", []byte(src), ref, []fieldOp{
		{path: MustParseFieldPath("spec.replicas"), value: int64(4)},
		{path: MustParseFieldPath("spec.paused"), value: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "patches:\n- patch: |-\n    kind: Deployment\n    spec:\n      replicas: 4 # c\n      paused: true\n  target:\n    kind: Deployment\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
