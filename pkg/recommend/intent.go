package recommend

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Archetype is the shape of workload an intent asks for.
type Archetype string

// Archetypes.
const (
	// Web serves HTTP: Deployment, Service, and Ingress or HTTPRoute when
	// public.
	Web Archetype = "web"
	// Worker runs continuously without serving: a Deployment only.
	Worker Archetype = "worker"
	// Cron runs on a schedule: a CronJob.
	Cron Archetype = "cron"
	// Database keeps state: a StatefulSet with a volume, or an operator's
	// resource when one is installed.
	Database Archetype = "database"
	// Cache is an in-memory store: a Deployment and a Service.
	Cache Archetype = "cache"
)

// EnvVar is one environment variable of the workload.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Intent is what the user asked for, typed. The parser fills it from text,
// flags override it, and answers complete it; nothing downstream reads the
// original text.
type Intent struct {
	Name      string    `json:"name,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Archetype Archetype `json:"archetype"`
	// Engine is the database or cache engine (postgres, mysql, redis, ...).
	Engine   string `json:"engine,omitempty"`
	Image    string `json:"image,omitempty"`
	Port     int32  `json:"port,omitempty"`
	Replicas int32  `json:"replicas,omitempty"`
	// Host is the public host name; Public asks for outside traffic.
	Host   string   `json:"host,omitempty"`
	Public bool     `json:"public,omitempty"`
	Env    []EnvVar `json:"env,omitempty"`
	// Schedule is a cron expression (Cron archetype).
	Schedule string `json:"schedule,omitempty"`
	// Storage is the volume size of a database, e.g. 10Gi.
	Storage string `json:"storage,omitempty"`
}

// Override copies the fields set in o over in's (flags win over text). Env
// variables are merged by name.
func (in Intent) Override(o Intent) Intent {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&in.Name, o.Name)
	set(&in.Namespace, o.Namespace)
	set(&in.Engine, o.Engine)
	set(&in.Image, o.Image)
	set(&in.Host, o.Host)
	set(&in.Schedule, o.Schedule)
	set(&in.Storage, o.Storage)
	if o.Archetype != "" {
		in.Archetype = o.Archetype
	}
	if o.Port != 0 {
		in.Port = o.Port
	}
	if o.Replicas != 0 {
		in.Replicas = o.Replicas
	}
	if o.Host != "" || o.Public {
		in.Public = true
	}
	in.Env = mergeEnv(in.Env, o.Env)
	return in
}

func mergeEnv(a, b []EnvVar) []EnvVar {
	out := append([]EnvVar(nil), a...)
	for _, e := range b {
		replaced := false
		for i := range out {
			if out[i].Name == e.Name {
				out[i].Value, replaced = e.Value, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

var (
	rePort       = regexp.MustCompile(`(?i)\b(?:port|listens? on|listening on|serves? on)\s*:?\s*(\d{1,5})\b|\bon\s+:(\d{1,5})\b`)
	reReplicas   = regexp.MustCompile(`(?i)\b(\d{1,4})\s*(?:replicas?|instances?|copies|pods)\b|\breplicas?\s*[:=]?\s*(\d{1,4})\b`)
	reEnv        = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	reName       = regexp.MustCompile(`(?i)\b(?:named|called)\s+([a-z0-9][a-z0-9-]{0,62})\b`)
	reNamespace  = regexp.MustCompile(`(?i)\bin\s+(?:the\s+)?(?:namespace\s+([a-z0-9][a-z0-9-]*)|([a-z0-9][a-z0-9-]*)\s+namespace)\b`)
	reStorage    = regexp.MustCompile(`(?i)\b(\d{1,5})\s*(gi|gib|gb|g|mi|mib|mb|ti|tb)\b`)
	reEvery      = regexp.MustCompile(`(?i)\bevery\s+(?:(\d{1,3})\s+)?(minute|min|hour|day|week)s?\b`)
	reAt         = regexp.MustCompile(`(?i)\bat\s+(\d{1,2}):(\d{2})\b`)
	reCronQuoted = regexp.MustCompile("[\"'`]((?:[0-9*/,-]+\\s+){4}[0-9*/,-]+)[\"'`]")
	reHost       = regexp.MustCompile(`^(?:https?://)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})/?$`)
	reImage      = regexp.MustCompile(`^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`)
)

// engines maps words to (archetype, engine).
var engines = map[string][2]string{
	"postgres": {"database", "postgres"}, "postgresql": {"database", "postgres"},
	"mysql": {"database", "mysql"}, "mariadb": {"database", "mariadb"},
	"mongodb": {"database", "mongodb"}, "mongo": {"database", "mongodb"},
	"redis": {"cache", "redis"}, "valkey": {"cache", "valkey"}, "memcached": {"cache", "memcached"},
}

// ParseIntent reads the common shapes of an intent from text, without a
// model: an image reference, "port 8080", "3 replicas", a host name ("public
// at shop.example.com"), KEY=VALUE pairs, "named shop", "in namespace x",
// and the archetype words (web, worker, cron/"every 5 minutes",
// database/postgres, cache/redis). It never fails on words it does not
// know; it fails only on contradictions it can see (a port out of range).
func ParseIntent(text string) (Intent, error) {
	var in Intent
	lower := strings.ToLower(text)

	if m := reCronQuoted.FindStringSubmatch(text); m != nil {
		in.Schedule = strings.Join(strings.Fields(m[1]), " ")
		text = strings.Replace(text, m[0], " ", 1)
	}
	if m := rePort.FindStringSubmatch(text); m != nil {
		p, _ := strconv.Atoi(m[1] + m[2])
		if p < 1 || p > 65535 {
			return in, fmt.Errorf("port %d is out of range 1-65535", p)
		}
		in.Port = int32(p)
	}
	if m := reReplicas.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1] + m[2])
		in.Replicas = int32(n)
	}
	if m := reName.FindStringSubmatch(text); m != nil {
		in.Name = strings.ToLower(m[1])
	}
	if m := reNamespace.FindStringSubmatch(text); m != nil {
		in.Namespace = strings.ToLower(m[1] + m[2])
	}

	words := map[string]bool{}
	for _, tok := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == ',' || r == ';' }) {
		tok = strings.Trim(tok, `"'()[]`)
		tok = strings.TrimRight(tok, ".!?")
		if tok == "" {
			continue
		}
		if m := reEnv.FindStringSubmatch(tok); m != nil {
			in.Env = mergeEnv(in.Env, []EnvVar{{Name: m[1], Value: m[2]}})
			continue
		}
		lt := strings.ToLower(tok)
		words[lt] = true
		switch {
		case in.Image == "" && looksLikeImage(tok):
			in.Image = tok
		case in.Host == "" && reHost.MatchString(lt) && !strings.Contains(lt, "/") || in.Host == "" && strings.HasPrefix(lt, "http") && reHost.MatchString(lt):
			in.Host = reHost.FindStringSubmatch(lt)[1]
		}
	}
	if in.Host != "" {
		in.Public = true
	}
	for _, w := range []string{"public", "publicly", "internet", "exposed", "expose"} {
		if words[w] {
			in.Public = true
		}
	}

	// The engine: a word, else the image's repository name.
	for _, w := range sortedKeys(words) {
		if e, ok := engines[w]; ok {
			in.Archetype, in.Engine = Archetype(e[0]), e[1]
			break
		}
	}
	if in.Engine == "" && in.Image != "" {
		if e, ok := engines[imageBase(in.Image)]; ok {
			in.Archetype, in.Engine = Archetype(e[0]), e[1]
		}
	}
	switch {
	case in.Archetype != "":
	case words["cron"] || words["cronjob"] || words["scheduled"] || reEvery.MatchString(text) || in.Schedule != "" || words["hourly"] || words["daily"] || words["nightly"]:
		in.Archetype = Cron
	case words["worker"] || words["consumer"] || words["background"] || words["daemon"]:
		in.Archetype = Worker
	case words["database"] || words["db"]:
		in.Archetype, in.Engine = Database, "postgres"
	case words["cache"]:
		in.Archetype, in.Engine = Cache, "redis"
	default:
		in.Archetype = Web
	}
	if in.Archetype == Cron && in.Schedule == "" {
		in.Schedule = parseSchedule(lower)
	}
	if in.Archetype == Database {
		if m := reStorage.FindStringSubmatch(text); m != nil {
			in.Storage = m[1] + storageUnit(m[2])
		}
	}
	if in.Name == "" && in.Image != "" {
		in.Name = dnsName(imageBase(in.Image))
	}
	if in.Name == "" && in.Engine != "" {
		in.Name = in.Engine
	}
	return in, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// looksLikeImage accepts references with a registry or path ("ghcr.io/a/b",
// "acme/shop") or a tag ("redis:7.4"); plain words are not images.
func looksLikeImage(tok string) bool {
	if strings.Contains(tok, "://") || !reImage.MatchString(tok) {
		return false
	}
	if strings.Contains(tok, "/") {
		return true
	}
	name, tag, ok := strings.Cut(tok, ":")
	return ok && tag != "" && !strings.Contains(name, ".") // shop.example.com:443 is a host
}

// imageBase is the last path element of an image without tag or digest.
func imageBase(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, "/"); i >= 0 {
		image = image[i+1:]
	}
	image, _, _ = strings.Cut(image, ":")
	return strings.ToLower(image)
}

// ImageTag returns the tag of an image reference ("" when it has none) and
// whether it is pinned by digest.
func ImageTag(image string) (tag string, digest bool) {
	if strings.Contains(image, "@sha256:") {
		return "", true
	}
	last := image
	if i := strings.LastIndex(image, "/"); i >= 0 {
		last = image[i+1:]
	}
	_, tag, _ = strings.Cut(last, ":")
	return tag, false
}

var reNonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsName makes s a DNS-1123 label.
func dnsName(s string) string {
	s = strings.Trim(reNonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	return s
}

func storageUnit(u string) string {
	switch strings.ToLower(u) {
	case "mi", "mib", "mb":
		return "Mi"
	case "ti", "tb":
		return "Ti"
	}
	return "Gi"
}

// parseSchedule turns "every 5 minutes", "hourly", "daily at 03:30" into a
// cron expression; empty when there is none.
func parseSchedule(s string) string {
	minute, hour := "0", "0"
	if m := reAt.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		hour, minute = strconv.Itoa(h), strconv.Itoa(mi)
	}
	if m := reEvery.FindStringSubmatch(s); m != nil {
		n := m[1]
		switch m[2] {
		case "minute", "min":
			if n == "" || n == "1" {
				return "* * * * *"
			}
			return "*/" + n + " * * * *"
		case "hour":
			if n == "" || n == "1" {
				return minute + " * * * *"
			}
			return minute + " */" + n + " * * *"
		case "day":
			return minute + " " + hour + " * * *"
		case "week":
			return minute + " " + hour + " * * 0"
		}
	}
	switch {
	case strings.Contains(s, "hourly"):
		return minute + " * * * *"
	case strings.Contains(s, "daily"), strings.Contains(s, "nightly"):
		return minute + " " + hour + " * * *"
	}
	return ""
}
