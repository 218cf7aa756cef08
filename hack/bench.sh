#!/usr/bin/env bash
# Functions called through trap and exported to bash -c are not unreachable.
# shellcheck disable=SC2317
# Runs dot's benchmarks (issue 10) and writes their figures, with the machine
# and the date, into docs/benchmarks.md between the "results:begin" and
# "results:end" markers. Every figure is compared with a baseline measured in
# the same run; nothing here asserts a wall-clock limit.
#
#   startup    `dot version --client` vs a bare client-go binary
#              (test/e2e/cmd/kubehello): hyperfine, peak RSS by /usr/bin/time
#   writeback  BenchmarkWriteBack (repo.Update, go-git) vs
#              BenchmarkWriteBackGitCLI on a generated 20,000-file,
#              10,000-commit repository (pkg/gitops/repo); peak RSS of each
#              client as its own process (test/e2e/cmd/benchgit, git CLI)
#   owner      BenchmarkFindOwner vs BenchmarkFindOwnerListAndScan on the
#              local API server with 5,000 objects and 300 Applications
#   roundtrip  BenchmarkRoundTrip: `dot op scale` vs the same by hand, for
#              Flux and Argo CD, on the local environment
#   poll       TestRoundTripDefaultPoll: the same change pushed by hand with
#              no trigger, applied when the controllers' default poll
#              notices it (Argo CD timeout.reconciliation 180s; Flux
#              GitRepository 1m); samples run at once, several minutes
#   locate     BenchmarkLocate5000 (pkg/gitops/manifest), no baseline
#
# Usage: hack/bench.sh            (make bench; 14-18 minutes on 2 cores, of
#                                 which 7-10 are the poll section waiting)
# Environment:
#   DOT_BENCH_ONLY="owner roundtrip"  run only these sections; the results
#                                     then go to a file in the work directory
#                                     unless DOT_BENCH_OUT is set
#   DOT_BENCH_QUICK=1                 few iterations and a small repository,
#                                     to check the script; not for the doc
#   DOT_BENCH_POLL_RUNS=N             default-poll samples per controller
#                                     (default 3; 1 with DOT_BENCH_QUICK)
#   DOT_BENCH_OUT=FILE                write the results there instead
#   DOT_BENCH_KEEP=1                  keep the work directory (raw outputs)
# Needs: go, git, GNU time (/usr/bin/time); hyperfine if installed (Debian:
# apt-get install hyperfine), else a loop; the local environment's binaries
# (make testbin) for owner and roundtrip; benchstat is fetched from the Go
# module proxy when it can be, and skipped when not.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

all="startup writeback owner roundtrip poll locate"
only="${DOT_BENCH_ONLY:-$all}"
quick="${DOT_BENCH_QUICK:-}"
doc="$root/docs/benchmarks.md"
out="${DOT_BENCH_OUT:-}"
benchstat_pkg="golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

[[ -x /usr/bin/time ]] || { echo "bench: GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
command -v git >/dev/null || { echo "bench: git is needed" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/dot-bench.XXXXXX")"
# Clones go to tmpfs when there is one: this VM's disk creates files at
# ~0.5 ms each, which would swamp what the write-back benchmark compares.
if [[ -d /dev/shm && -w /dev/shm ]] && (($(df -Pk /dev/shm | awk 'NR==2 {print $4}') > 4000000)); then
	fast="$(mktemp -d /dev/shm/dot-bench.XXXXXX)"
else
	fast="$work/fast"
	mkdir -p "$fast"
fi
serve_pid=""
cleanup() {
	if [[ -n "$serve_pid" ]]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	rm -rf "$fast"
	if [[ -n "${DOT_BENCH_KEEP:-}" ]]; then
		echo "bench: raw outputs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

want() { [[ " $only " == *" $1 "* ]]; }
log() { printf 'bench: %s\n' "$*" >&2; }

# Sizes and iteration counts.
files=20000 commits=10000
# benchstat needs 6 samples for a confidence interval.
owner_time=1s owner_count=6
rt_rounds=8
wb_n=2x wb_rounds=6 wb_disk_rounds=3 rss_runs=3
start_runs=100 start_warm=10
poll_runs=${DOT_BENCH_POLL_RUNS:-3}
if [[ -n "$quick" ]]; then
	poll_runs=${DOT_BENCH_POLL_RUNS:-1}
	files=2000 commits=1000
	owner_time=200ms owner_count=1
	rt_rounds=1
	wb_n=2x wb_rounds=1 wb_disk_rounds=1 rss_runs=1
	start_runs=10 start_warm=2
fi

# --- load accounting --------------------------------------------------------
# Each section runs under GNU time; the CPU the whole machine used meanwhile
# (from /proc/stat) minus the section's own (its process tree, local
# environment included) is what other processes took: the figures' "load".
busy_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2+$3+$4+$7+$8+$9)/hz; exit}' /proc/stat
}
declare -A load_note
# run_section NAME OUTFILE CMD...: runs CMD, output to OUTFILE (and stderr).
run_section() {
	local name=$1 outfile=$2
	shift 2
	local b0 b1
	b0=$(busy_seconds)
	/usr/bin/time -f '%e %U %S' -o "$work/$name.rusage" "$@" 2>&1 | tee "$outfile" >&2
	b1=$(busy_seconds)
	load_note[$name]=$(awk -v b0="$b0" -v b1="$b1" -v n="$(nproc)" '{
		wall=$1; own=$2+$3; other=(b1-b0)-own; if (other < 0) other = 0
		printf "%.0f s wall; other processes used %.2f of %d cores on average", wall, other/wall, n
	}' "$work/$name.rusage")
	log "$name: ${load_note[$name]}"
}

# --- parsing go test -bench output ---------------------------------------
# stat FILE NAME UNIT mean|min|max|n: a summary of one metric of one
# benchmark (the -N GOMAXPROCS suffix is ignored) over the -count runs.
stat() {
	awk -v want="$2" -v unit="$3" -v what="$4" '
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		if (name != want) next
		for (i = 3; i < NF; i += 2) if ($(i+1) == unit) {
			v = $i + 0; s += v; n++
			if (n == 1 || v < mn) mn = v
			if (n == 1 || v > mx) mx = v
		}
	}
	END {
		if (n == 0) { print "n/a"; exit }
		if (what == "mean") print s / n; else if (what == "min") print mn
		else if (what == "max") print mx; else print n
	}' "$1"
}
# human NS: a duration in ns, printed in a readable unit.
human() {
	awk -v v="$1" 'BEGIN {
		if (v == "n/a") { print "n/a"; exit }
		if (v >= 1e9) printf "%.2f s", v/1e9; else if (v >= 1e6) printf "%.1f ms", v/1e6
		else if (v >= 1e3) printf "%.1f µs", v/1e3; else printf "%d ns", v }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a/b }'; }
# timecell FILE NAME: "mean (min–max, n runs)" of ns/op.
timecell() {
	local n
	n=$(stat "$1" "$2" ns/op n)
	if [[ "$n" == n/a ]]; then
		echo "n/a"
	else
		echo "$(human "$(stat "$1" "$2" ns/op mean)") ($(human "$(stat "$1" "$2" ns/op min)")–$(human "$(stat "$1" "$2" ns/op max)"), $n runs)"
	fi
}
# pollstat FIELD KIND mean|min|max|n: a summary of one field (seconds) of
# the POLL-SAMPLE lines of one controller.
pollstat() {
	awk -v want="$2" -v field="$1" -v what="$3" '
	/POLL-SAMPLE/ {
		kind = ""; v = ""
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "controller") kind = kv[2]
			if (kv[1] == field) v = kv[2]
		}
		if (kind != want || v == "") next
		v += 0; s += v; n++
		if (n == 1 || v < mn) mn = v
		if (n == 1 || v > mx) mx = v
	}
	END {
		if (n == 0) { print "n/a"; exit }
		if (what == "mean") print s / n; else if (what == "min") print mn
		else if (what == "max") print mx; else print n
	}' "$work/poll.txt" 2>/dev/null || echo n/a
}
ms() { awk -v v="$1" 'BEGIN { if (v == "n/a") print v; else printf "%.0f ms", v }'; }
median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "n/a") print "n/a"; else printf "%.0f MiB", k/1024 }'; }

# --- builds -----------------------------------------------------------------
log "building (nice -n 10)"
build() { nice -n 10 "$@"; }
if want startup; then
	build go build -trimpath -ldflags "-s -w" -o "$work/dot" ./cmd/dot
	build go build -trimpath -ldflags "-s -w" -o "$work/kubehello" ./test/e2e/cmd/kubehello
fi
if want writeback; then
	build go test -c -o "$work/repo.test" ./pkg/gitops/repo
	build go build -o "$work/benchgit" ./test/e2e/cmd/benchgit
fi
if want owner || want roundtrip || want poll; then
	build go test -c -tags e2e -o "$work/e2e.test" ./test/e2e
fi
if want locate; then
	build go test -c -o "$work/manifest.test" ./pkg/gitops/manifest
fi

# --- startup ----------------------------------------------------------------
if want startup; then
	log "startup: dot version --client vs kubehello"
	home="$work/home"
	mkdir -p "$home"
	# No kubeconfig: neither program contacts a server.
	startup_cmd() (
		cd "$work"
		env -i PATH="$PATH" HOME="$home" KUBECONFIG="$home/none" "$@"
	)
	if command -v hyperfine >/dev/null; then
		run_section startup "$work/startup.txt" \
			env -i PATH="$PATH" HOME="$home" KUBECONFIG="$home/none" \
			hyperfine -N --style basic -w "$start_warm" -r "$start_runs" --export-csv "$work/startup.csv" \
			-n dot "$work/dot version --client" -n kubehello "$work/kubehello"
		# command,mean,stddev,median,user,system,min,max (seconds)
		start_tool="hyperfine $(hyperfine --version | awk '{print $2}')"
	else
		start_tool="a loop of /usr/bin/time"
		startup_loop() {
			echo "command,mean,stddev,median,user,system,min,max"
			for name in dot kubehello; do
				local args=("$work/kubehello")
				[[ $name == dot ]] && args=("$work/dot" version --client)
				for _ in $(seq "$start_runs"); do
					startup_cmd /usr/bin/time -f '%e' -o "$work/t" "${args[@]}" >/dev/null
					cat "$work/t"
				done | sort -n | awk -v n="$name" '{a[NR]=$1; s+=$1; ss+=$1*$1} END {
					m=s/NR; sd=sqrt(ss/NR-m*m); printf "%s,%f,%f,%f,,,%f,%f\n", n, m, sd, a[int((NR+1)/2)], a[1], a[NR] }'
			done
		}
		export work home start_runs
		export -f startup_cmd startup_loop
		# shellcheck disable=SC2016 # expanded by the inner bash
		run_section startup "$work/startup.txt" bash -c 'startup_loop >"$work/startup.csv"'
	fi
	for name in dot kubehello; do
		args=("$work/kubehello")
		[[ $name == dot ]] && args=("$work/dot" version --client)
		for _ in $(seq 10); do
			startup_cmd /usr/bin/time -f '%M' -o "$work/rss" "${args[@]}" >/dev/null
			cat "$work/rss"
		done | median >"$work/startup.$name.rss"
	done
fi

# --- write-back -------------------------------------------------------------
target=$(printf 'apps/team-%03d/svc-%03d.yaml' $((files * 2 / 3 / 100)) $((files * 2 / 3 % 100)))
if want writeback; then
	log "writeback: $files files, $commits commits (clones on $(df -P "$fast" | awk 'NR==2 {print $1}'))"
	export DOT_BENCH_REPO_FILES=$files DOT_BENCH_REPO_COMMITS=$commits
	mkdir -p "$fast/git" "$fast/tmp" "$work/disk"
	# The variants take turns, each run in its own process with the
	# repository generated once (DOT_BENCH_REPO_DIR), so that a change of
	# the machine's load - or of this VM's disk speed, which drifts by 2-3x
	# within minutes - hits both alike; -count would run one after the other.
	# shellcheck disable=SC2016 # expanded by the inner bash
	turns='for _ in $(seq "$1"); do
		for b in WriteBack WriteBackGitCLI; do
			"$0" -test.run "^\$" -test.bench "^Benchmark$b\$" -test.benchtime "$2" -test.benchmem -test.timeout 10m
		done
	done'
	run_section writeback "$work/writeback.txt" \
		env TMPDIR="$fast/tmp" DOT_BENCH_REPO_DIR="$fast/git" bash -c "$turns" "$work/repo.test" "$wb_rounds" "$wb_n"
	if [[ -z "$quick" ]]; then
		log "writeback: the same with clones on disk"
		run_section writeback-disk "$work/writeback-disk.txt" \
			env TMPDIR="$work/disk" DOT_BENCH_REPO_DIR="$fast/git" bash -c "$turns" "$work/repo.test" "$wb_disk_rounds" 1x
	fi

	log "writeback: peak RSS of each client as its own process"
	"$work/benchgit" serve -root "$fast/git" >"$work/serve.url" 2>"$work/serve.log" &
	serve_pid=$!
	for _ in $(seq 50); do
		[[ -s "$work/serve.url" ]] && break
		sleep 0.1
	done
	url="$(head -1 "$work/serve.url")/big-$files-$commits.git"
	gitcli_writeback() {
		local d
		d=$(mktemp -d) # in TMPDIR, on tmpfs
		git clone --quiet --depth 1 --single-branch --branch main --no-tags "$1" "$d"
		awk '/^  replicas: [0-9]+$/ { $0 = "  replicas: " $2 + 1 } { print }' "$d/$2" >"$d/$2.new"
		mv "$d/$2.new" "$d/$2"
		git -C "$d" commit --quiet -m "bench: git CLI rss" -- "$2"
		git -C "$d" push --quiet origin main
		rm -rf "$d"
	}
	export -f gitcli_writeback
	gitenv=(env TMPDIR="$fast/tmp" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
		GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com)
	: >"$work/rss.gogit"
	: >"$work/rss.gitcli"
	for _ in $(seq "$rss_runs"); do
		"${gitenv[@]}" /usr/bin/time -f '%M %e' -o "$work/r" "$work/benchgit" update -url "$url" -file "$target" >/dev/null
		cat "$work/r" >>"$work/rss.gogit"
		"${gitenv[@]}" /usr/bin/time -f '%M %e' -o "$work/r" bash -c 'set -e; gitcli_writeback "$@"' _ "$url" "$target"
		cat "$work/r" >>"$work/rss.gitcli"
	done
	kill "$serve_pid"
	wait "$serve_pid" 2>/dev/null || true
	serve_pid=""
fi

# --- owner lookup and round trip (local environment) -----------------------
if want owner; then
	log "owner: FindOwner vs list-and-scan (starts the local environment)"
	run_section owner "$work/owner.txt" \
		bash -c 'cd test/e2e && exec "$@"' _ "$work/e2e.test" -test.run '^$' -test.bench '^BenchmarkFindOwner' \
		-test.benchtime "$owner_time" -test.count "$owner_count" -test.benchmem -test.timeout 20m
fi
if want roundtrip; then
	log "roundtrip: dot op scale vs by hand, Flux and Argo CD (starts the local environment)"
	# Rounds rather than -count: dot and by hand take turns (see the
	# benchmark's doc); the #NN suffixes of the repeated names are dropped.
	run_section roundtrip "$work/roundtrip.txt" \
		env DOT_BENCH_ROUNDS="$rt_rounds" bash -c 'cd test/e2e && exec "$@"' _ "$work/e2e.test" -test.run '^$' -test.bench '^BenchmarkRoundTrip$' \
		-test.benchtime 1x -test.timeout 30m
	sed -E -i '/^Benchmark/s/#[0-9]+//' "$work/roundtrip.txt"
fi
if want poll; then
	log "poll: round trip with no trigger, the controllers' default poll ($poll_runs samples per controller; minutes)"
	run_section poll "$work/poll.txt" \
		env DOT_BENCH_POLL_RUNS="$poll_runs" bash -c 'cd test/e2e && exec "$@"' _ "$work/e2e.test" -test.run '^TestRoundTripDefaultPoll$' \
		-test.v -test.timeout 40m
fi
if want locate; then
	log "locate: BenchmarkLocate5000"
	run_section locate "$work/locate.txt" \
		bash -c 'cd pkg/gitops/manifest && exec "$@"' _ "$work/manifest.test" -test.run '^$' -test.bench '^BenchmarkLocate5000$' \
		-test.benchtime 20x -test.count 3 -test.benchmem
fi

# --- benchstat (optional) ---------------------------------------------------
# Names are rewritten to name=value form so benchstat compares dot with its
# baseline per row (column = implementation), with confidence intervals.
benchstat_out=""
if grep -qs '^Benchmark' "$work"/{owner,roundtrip,writeback,writeback-disk}.txt &&
	GOBIN="$work" nice -n 10 go install "$benchstat_pkg" 2>"$work/benchstat.log"; then
	for f in owner roundtrip writeback writeback-disk; do
		[[ -s "$work/$f.txt" ]] || continue
		sed -E \
			-e 's/^BenchmarkFindOwnerListAndScan(-[0-9]+)?/BenchmarkOwnerLookup\/impl=list-and-scan\1/' \
			-e 's/^BenchmarkFindOwner(-[0-9]+)?([[:space:]])/BenchmarkOwnerLookup\/impl=dot\1\2/' \
			-e 's/^BenchmarkWriteBackGitCLI(-[0-9]+)?/BenchmarkWriteBack\/impl=git-cli\1/' \
			-e 's/^BenchmarkWriteBack(-[0-9]+)?([[:space:]])/BenchmarkWriteBack\/impl=dot\1\2/' \
			-e 's/^BenchmarkRoundTrip\/(flux|argocd)\/dot/BenchmarkRoundTrip\/controller=\1\/impl=dot/' \
			-e 's/^BenchmarkRoundTrip\/(flux|argocd)\/by-hand/BenchmarkRoundTrip\/controller=\1\/impl=by-hand/' \
			-e '/^BenchmarkWriteBack/s/[[:space:]]+[0-9.]+ B\/op[[:space:]]+[0-9.]+ allocs\/op//' \
			"$work/$f.txt" | grep -E '^(Benchmark|goos:|goarch:|pkg:|cpu:)' >"$work/$f.bs"
		label=$f
		[[ $f == writeback ]] && label="writeback (tmpfs)"
		benchstat_out+="### $label"$'\n\n''```'$'\n'"$("$work/benchstat" -col /impl "$work/$f.bs" 2>&1)"$'\n''```'$'\n\n'
	done
else
	log "benchstat unavailable (see $work/benchstat.log); raw lines only"
fi

# --- the results section -----------------------------------------------------
if [[ -z "$out" ]]; then
	if [[ "$only" == "$all" && -z "$quick" ]]; then out="$doc"; else out="$work/benchmarks.md"; fi
fi
res="$work/results.md"
{
	echo "<!-- results:begin (written by hack/bench.sh; do not edit by hand) -->"
	echo "## Results"
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (the working tree had uncommitted changes)')"
	echo "- Machine: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
	echo "- Tools: $(go version | awk '{print $3}'), $(git --version)${start_tool:+, $start_tool}"
	[[ -n "$quick" ]] && echo "- **DOT_BENCH_QUICK run: small sizes and few iterations; not representative.**"
	echo "- Load: each section's wall time, and the CPU other processes took meanwhile (machine-wide busy time from /proc/stat minus the section's own process tree):"
	for s in startup writeback writeback-disk owner roundtrip poll locate; do
		[[ -n "${load_note[$s]:-}" ]] && echo "  - $s: ${load_note[$s]}"
	done
	echo

	if [[ -s "$work/owner.txt" ]]; then
		f="$work/owner.txt"
		a=BenchmarkFindOwner b=BenchmarkFindOwnerListAndScan
		echo "### Owner lookup: 5,000 objects, 300 Argo CD Applications"
		echo
		echo "| | time per lookup: mean (min–max) | API requests per lookup | response bytes per lookup | allocated per lookup |"
		echo "|---|---|---|---|---|"
		for n in $a $b; do
			label="dot \`Cluster.FindOwner\`"
			[[ $n == "$b" ]] && label="list Applications + scan \`status.resources\`"
			printf '| %s | %s | %s | %s | %s |\n' "$label" "$(timecell "$f" "$n")" \
				"$(stat "$f" "$n" requests/op mean)" "$(awk -v v="$(stat "$f" "$n" resp-B/op mean)" 'BEGIN {printf "%.0f", v}')" \
				"$(awk -v v="$(stat "$f" "$n" B/op mean)" 'BEGIN {printf "%.0f KiB", v/1024}')"
		done
		echo
		echo "**FindOwner ÷ list-and-scan = $(ratio "$(stat "$f" $a ns/op mean)" "$(stat "$f" $b ns/op mean)")** (list-and-scan takes $(ratio "$(stat "$f" $b ns/op mean)" "$(stat "$f" $a ns/op mean)")× as long)."
		echo
	fi

	if [[ -s "$work/writeback.txt" ]]; then
		f="$work/writeback.txt"
		a=BenchmarkWriteBack b=BenchmarkWriteBackGitCLI
		echo "### Write-back: $files files, $commits commits"
		echo
		echo "| | clones on tmpfs: mean (min–max) | clones on this VM's disk (slow, drifting; see above) | peak RSS (median of $rss_runs processes) |"
		echo "|---|---|---|---|"
		for n in $a $b; do
			label="dot \`repo.Update\` (go-git)" rssf="$work/rss.gogit"
			[[ $n == "$b" ]] && label="git CLI: \`clone --depth 1\`, \`commit\`, \`push\`" rssf="$work/rss.gitcli"
			disk="not run"
			[[ -s "$work/writeback-disk.txt" ]] && disk=$(timecell "$work/writeback-disk.txt" "$n")
			printf '| %s | %s | %s | %s |\n' "$label" "$(timecell "$f" "$n")" "$disk" "$(mib "$(awk '{print $1}' "$rssf" | median)")"
		done
		echo
		echo "**go-git ÷ git CLI = $(ratio "$(stat "$f" $a ns/op mean)" "$(stat "$f" $b ns/op mean)")** on tmpfs$(
			[[ -s "$work/writeback-disk.txt" ]] && echo ", $(ratio "$(stat "$work/writeback-disk.txt" $a ns/op mean)" "$(stat "$work/writeback-disk.txt" $b ns/op mean)") on disk")."
		echo "Peak RSS: go-git ÷ git CLI = $(ratio "$(awk '{print $1}' "$work/rss.gogit" | median)" "$(awk '{print $1}' "$work/rss.gitcli" | median)") (those separate runs took a median $(awk '{print $2}' "$work/rss.gogit" | median) s and $(awk '{print $2}' "$work/rss.gitcli" | median) s)."
		echo
	fi

	if [[ -s "$work/roundtrip.txt" || -s "$work/poll.txt" ]]; then
		f="$work/roundtrip.txt"
		echo "### Round trip: \`dot op scale\` → healthy at the pushed SHA"
		echo
		echo "| controller | \`dot op scale\` (in-process CLI): mean (min–max) | by hand: git CLI + annotate + poll | default poll: git CLI push, no trigger | dot ÷ by hand | default poll ÷ dot | CPU per round trip: dot / by hand |"
		echo "|---|---|---|---|---|---|---|"
		for c in flux argocd; do
			a="BenchmarkRoundTrip/$c/dot" b="BenchmarkRoundTrip/$c/by-hand"
			label=$c
			[[ $c == flux ]] && label="Flux"
			[[ $c == argocd ]] && label="Argo CD"
			dm=n/a hm=n/a dotcell=n/a handcell=n/a cpucell="n/a"
			if [[ -s "$f" ]]; then
				dm=$(stat "$f" "$a" ns/op mean) hm=$(stat "$f" "$b" ns/op mean)
				dotcell=$(timecell "$f" "$a") handcell=$(timecell "$f" "$b")
				cpucell="$(ms "$(stat "$f" "$a" cpu-ms/op mean)") / $(ms "$(stat "$f" "$b" cpu-ms/op mean)")"
			fi
			pm=$(pollstat total_s "$c" mean)
			pollcell=n/a
			if [[ "$pm" != n/a ]]; then
				pollcell="$(human "$(awk -v v="$pm" 'BEGIN {print v*1e9}')") ($(human "$(awk -v v="$(pollstat total_s "$c" min)" 'BEGIN {print v*1e9}')")–$(human "$(awk -v v="$(pollstat total_s "$c" max)" 'BEGIN {print v*1e9}')"), $(pollstat total_s "$c" n) samples)"
				pm=$(awk -v v="$pm" 'BEGIN {print v*1e9}')
			fi
			printf '| %s | %s | %s | %s | **%s** | **%s** | %s |\n' "$label" "$dotcell" "$handcell" "$pollcell" \
				"$(ratio "$dm" "$hm")" "$(ratio "$pm" "$dm")" "$cpucell"
		done
		echo
		if [[ -s "$work/poll.txt" ]]; then
			settings=$(grep -o 'POLL-SETTINGS .*' "$work/poll.txt" | head -1 | sed 's/^POLL-SETTINGS //')
			echo "Default poll: ${settings:-settings not logged}. Each sample pushed at a random moment of its slot of a window of two poll periods (\"pushed at\": seconds into the window, which for Argo CD began at the app's first periodic refresh); all samples of both controllers ran at once, $(grep -o 'POLL-WALL [0-9]* s' "$work/poll.txt" | awk '{print $2}') s in all. \"Noticed\": the Flux GitRepository's artifact, or the revision Argo CD compared, at the pushed commit. \"Refreshes\": when the Application's \`status.reconciledAt\` moved after the push (whole seconds)."
			echo
			echo "| controller | sample | pushed at | git CLI clone–push | noticed after | healthy after | Argo CD refreshes after the push |"
			echo "|---|---|---|---|---|---|---|"
			awk '/POLL-SAMPLE/ {
				delete f
				for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[2] != "") f[kv[1]] = kv[2] }
				c = f["controller"] == "flux" ? "Flux" : "Argo CD"
				r = "—"
				if ("refreshes_s" in f) { r = f["refreshes_s"]; gsub(/,/, " s, ", r); r = r " s" }
				printf "| %s | %s | %.0f s | %.2f s | %.1f s | %.1f s | %s |\n", c, f["sample"], f["offset_s"], f["push_s"], f["detect_s"], f["total_s"], r
			}' "$work/poll.txt"
			echo
		fi
	fi

	if [[ -s "$work/startup.csv" ]]; then
		echo "### Start-up: \`dot version --client\` vs a bare client-go binary"
		echo
		echo "| | median | mean ± σ | min–max | peak RSS (median of 10) | binary (stripped) |"
		echo "|---|---|---|---|---|---|"
		for n in dot kubehello; do
			label="\`dot version --client\`"
			[[ $n == kubehello ]] && label="client-go hello (\`test/e2e/cmd/kubehello\`)"
			awk -F, -v n="$n" -v label="$label" -v rss="$(mib "$(cat "$work/startup.$n.rss")")" \
				-v size="$(awk -v b="$(wc -c <"$work/$n")" 'BEGIN {printf "%.0f MB", b/1e6}')" \
				'$1 == n {printf "| %s | %.1f ms | %.1f ms ± %.1f | %.1f–%.1f ms | %s | %s |\n", label, $4*1000, $2*1000, $3*1000, $7*1000, $8*1000, rss, size}' "$work/startup.csv"
		done
		echo
		dm=$(awk -F, '$1 == "dot" {print $4}' "$work/startup.csv") hm=$(awk -F, '$1 == "kubehello" {print $4}' "$work/startup.csv")
		echo "**dot ÷ hello = $(ratio "$dm" "$hm")** in median time, $(ratio "$(cat "$work/startup.dot.rss")" "$(cat "$work/startup.kubehello.rss")") in peak RSS."
		echo
	fi

	if [[ -s "$work/locate.txt" ]]; then
		echo "### Locate in 5,000 YAML documents (no baseline)"
		echo
		echo "\`BenchmarkLocate5000\` (pkg/gitops/manifest): two fields of one Deployment located in a plain directory source: $(timecell "$work/locate.txt" BenchmarkLocate5000) per locate."
		echo
	fi

	if [[ -n "$benchstat_out" ]]; then
		echo "### benchstat (dot vs baseline per row, 95% confidence)"
		echo
		printf '%s' "$benchstat_out"
	fi
	echo "<details><summary>Raw <code>go test -bench</code> lines</summary>"
	echo
	echo '```'
	cat "$work"/{owner,writeback,writeback-disk,roundtrip,locate}.txt 2>/dev/null | grep -E '^Benchmark[^[:space:]]+[[:space:]]+[0-9]' || true
	grep -o 'POLL-[A-Z]* .*' "$work/poll.txt" 2>/dev/null || true
	echo '```'
	echo "</details>"
	echo "<!-- results:end -->"
} >"$res"

if [[ -f "$out" ]] && grep -q '<!-- results:begin' "$out"; then
	awk -v res="$res" '
		/<!-- results:begin/ { while ((getline l < res) > 0) print l; skip = 1; next }
		/<!-- results:end -->/ { skip = 0; next }
		!skip { print }' "$out" >"$work/out.md"
	cat "$work/out.md" >"$out"
else
	{ [[ -f "$out" ]] && cat "$out" && echo; cat "$res"; } >"$work/out.md"
	cat "$work/out.md" >"$out"
fi
log "results written to $out"
[[ "$out" == "$work"/* ]] && DOT_BENCH_KEEP=1
exit 0
