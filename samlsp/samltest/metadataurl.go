package samltest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// MetadataURL is an IdP's metadata URL for tests of the metadata refresh: an httptest server on
// loopback that answers every path with the document last given to Serve, or with the status given
// to Fail, and counts the requests. Close it when done.
type MetadataURL struct {
	*httptest.Server
	Fetches atomic.Int64 // requests answered
	// OnFetch, when set, runs before each answer (a change made while a fetch is under way).
	OnFetch atomic.Pointer[func()]
	doc     atomic.Pointer[[]byte]
	status  atomic.Int64 // 0: 200 with doc
}

// NewMetadataURL starts a MetadataURL serving doc, over TLS (httptest's certificate) when tls is set,
// else over http.
func NewMetadataURL(doc []byte, tls bool) *MetadataURL {
	m := &MetadataURL{}
	m.Serve(doc)
	m.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.Fetches.Add(1)
		if f := m.OnFetch.Load(); f != nil {
			(*f)()
		}
		if s := m.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		w.Write(*m.doc.Load())
	}))
	if tls {
		m.StartTLS()
	} else {
		m.Start()
	}
	return m
}

// Serve answers doc from now on.
func (m *MetadataURL) Serve(doc []byte) { m.doc.Store(&doc); m.status.Store(0) }

// Fail answers status, with no document, from now on.
func (m *MetadataURL) Fail(status int) { m.status.Store(int64(status)) }
