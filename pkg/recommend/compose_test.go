package recommend

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestParseCompose(t *testing.T) {
	data, err := os.ReadFile("testdata/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ service, want, err string }{
		{service: "web", want: `{"name":"web","archetype":"web","image":"ghcr.io/acme/shop:1.4","port":3000,"replicas":3,"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"WORKERS","value":"4"}]}`},
		{service: "db", want: `{"name":"db","archetype":"database","engine":"postgres","image":"postgres:16.4","env":[{"name":"POSTGRES_DB","value":"shop"}]}`},
		{service: "jobs", want: `{"name":"jobs","archetype":"worker","image":"ghcr.io/acme/jobs:2.0"}`},
		{service: "bad", err: "has no target"},
		{service: "nope", err: `no service "nope" (services: bad, db, jobs, web)`},
		{service: "", err: "has 4 services (bad, db, jobs, web): name one"},
	} {
		t.Run(tc.service, func(t *testing.T) {
			in, err := ParseCompose(data, tc.service)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(in)
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	in, err := ParseCompose([]byte("services:\n  only:\n    image: a/b:1\n    ports: [80]\n"), "")
	if err != nil || in.Name != "only" || in.Port != 80 {
		t.Fatalf("single service: %+v %v", in, err)
	}
}
