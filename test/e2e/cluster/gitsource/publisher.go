package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// DefaultAddr is where the artifact server listens unless Options.Addr says
// otherwise: a free port on the loopback interface.
const DefaultAddr = "127.0.0.1:0"

// Options configures a Publisher.
type Options struct {
	// StorageDir holds the artifacts. When empty, New creates a temporary
	// directory, which Start removes when it returns.
	StorageDir string
	// Addr is the listen address of the artifact HTTP server; DefaultAddr
	// when empty. The URLs in status.artifact.url use it, so it must be
	// reachable by the artifact's consumers (kustomize-controller).
	Addr string
	// Logger receives the controller's and controller-runtime's logs;
	// discarded when unset.
	Logger logr.Logger
	// Now is the clock for artifact and condition times; time.Now when nil.
	Now func() time.Time
	// Concurrency is the number of GitRepositories reconciled in parallel;
	// 2 (source-controller's default) when zero.
	Concurrency int
}

// Publisher reconciles GitRepository objects in all namespaces and serves
// their artifacts over HTTP. Create it with New, run it with Start.
type Publisher struct {
	mgr        manager.Manager
	ln         net.Listener
	url        string
	storage    *storage
	ownStorage bool
	ready      chan struct{}
	started    atomic.Bool
}

// New binds the artifact server's listener (so URL is known at once) and
// sets up the controller against cfg. Nothing is reconciled until Start,
// which must be called (it releases the listener and the storage directory).
// The GitRepository CRD must be installed by the time Start runs.
func New(cfg *rest.Config, opts Options) (*Publisher, error) {
	if cfg == nil {
		return nil, errors.New("new gitrepository publisher: nil rest config")
	}
	log := opts.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	concurrency := opts.Concurrency
	if concurrency <= 0 {
		concurrency = 2
	}

	p := &Publisher{ready: make(chan struct{})}
	dir := opts.StorageDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gitsource-")
		if err != nil {
			return nil, fmt.Errorf("new gitrepository publisher: %w", err)
		}
		dir, p.ownStorage = tmp, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("new gitrepository publisher: %w", err)
	}
	p.storage = &storage{root: dir}
	abs, err := filepath.Abs(dir)
	if err != nil {
		p.cleanup()
		return nil, fmt.Errorf("new gitrepository publisher: %w", err)
	}
	p.storage.root = abs

	p.ln, err = net.Listen("tcp", addr)
	if err != nil {
		p.cleanup()
		return nil, fmt.Errorf("new gitrepository publisher: listen on %s: %w", addr, err)
	}
	p.url = "http://" + p.ln.Addr().String()

	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), sourcev1.AddToScheme(scheme)); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("new gitrepository publisher: %w", err)
	}
	p.mgr, err = ctrl.NewManager(cfg, manager.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		// Secrets are read when needed rather than cached cluster-wide.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		p.cleanup()
		return nil, fmt.Errorf("new gitrepository publisher: %w", err)
	}
	r := &reconciler{client: p.mgr.GetClient(), storage: p.storage, baseURL: p.url, now: now, log: log.WithName("gitrepository")}
	err = ctrl.NewControllerManagedBy(p.mgr).
		For(&sourcev1.GitRepository{}).
		WithEventFilter(requestedAtChanged).
		Named("gitrepository-publisher").
		WithOptions(controller.Options{
			MaxConcurrentReconciles: concurrency,
			// Several publishers may run in one test binary.
			SkipNameValidation: ptr.To(true),
		}).
		Complete(r)
	if err != nil {
		p.cleanup()
		return nil, fmt.Errorf("new gitrepository publisher: %w", err)
	}
	if err := p.mgr.Add(manager.RunnableFunc(p.signalReady)); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("new gitrepository publisher: %w", err)
	}
	return p, nil
}

// URL returns the artifact server's base URL, http://HOST:PORT. Artifact
// URLs are URL()/gitrepository/<namespace>/<name>/<commit>.tar.gz.
func (p *Publisher) URL() string { return p.url }

// StorageDir returns the directory holding the artifacts.
func (p *Publisher) StorageDir() string { return p.storage.root }

// Ready is closed once Start serves artifacts and the GitRepository
// informer has synced.
func (p *Publisher) Ready() <-chan struct{} { return p.ready }

// Start serves artifacts and runs the controller until ctx is done, then
// stops the HTTP server, closes the listener and removes a storage directory
// New created. It returns nil after a clean shutdown. Call it once.
func (p *Publisher) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("gitrepository publisher: Start called twice")
	}
	defer p.cleanup()
	srv := &http.Server{Handler: p.storage.handler(), ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(p.ln) }()

	mgrErr := p.mgr.Start(ctx)

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if sErr := <-serveErr; !errors.Is(sErr, http.ErrServerClosed) {
		err = errors.Join(err, sErr)
	}
	if err = errors.Join(mgrErr, err); err != nil {
		return fmt.Errorf("gitrepository publisher: %w", err)
	}
	return nil
}

// signalReady runs inside the manager: it waits for the GitRepository
// informer and closes the ready channel.
func (p *Publisher) signalReady(ctx context.Context) error {
	if _, err := p.mgr.GetCache().GetInformer(ctx, &sourcev1.GitRepository{}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("gitrepository informer: %w", err)
	}
	if !p.mgr.GetCache().WaitForCacheSync(ctx) {
		return nil // stopped before the cache synced
	}
	close(p.ready)
	<-ctx.Done()
	return nil
}

func (p *Publisher) cleanup() {
	if p.ln != nil {
		_ = p.ln.Close()
	}
	if p.ownStorage {
		_ = os.RemoveAll(p.storage.root)
	}
}
