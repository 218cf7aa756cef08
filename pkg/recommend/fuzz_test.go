package recommend

import (
	"testing"
)

// FuzzParseIntent: any text parses without panicking, and whatever comes
// out either resolves and generates, or fails with an error (never a panic
// in Generate on values the parser let through).
func FuzzParseIntent(f *testing.F) {
	for _, s := range []string{
		"web app from ghcr.io/acme/shop:1.4 on port 8080, 3 replicas, public at shop.example.com",
		"cron job from a/b:1 every 5 minutes", "postgres database with 20Gi storage", "worker A=1 B=2 from x/y:2",
		"redis:7.4 cache", "every 0 hours", "at 99:99 daily", "port 0", "10000 replicas", "named -",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		in, err := ParseIntent(text)
		if err != nil {
			return
		}
		spec, err := Recommend(in, &Capabilities{Namespace: "default", IngressClasses: []string{"nginx"}}).Resolve(nil, true)
		if err != nil {
			return
		}
		if _, err := Generate(spec); err != nil {
			return
		}
	})
}
