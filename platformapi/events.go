package platformapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/scimsso/scimsso/store"
)

// listEvents answers GET /api/v1/events?after=SEQ&limit=N&types=a,b (scope events:read): the events
// after SEQ in seq order, each as store.EventJSON makes it (the same bytes a webhook receives), and
// next_after, the seq to pass as after next time: the last one listed, or after itself when none
// was. A client that keeps next_after and asks again never misses an event and never sees one twice.
//
// With a types filter and a page that is not full, next_after is the last seq of the whole log as it
// stood before the page was read (when that is greater): every event up to it has been looked at, so
// a client polling a rare type does not scan the same stretch of other events again at every poll.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEvents(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var last int64
	if len(q.Types) > 0 {
		// Read first: an event made after this read may be listed below or not, and either way its
		// seq is above last.
		if last, err = s.st.LastEventSeq(r.Context(), false); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// Numbered above when there is a filter: the list need not number again.
	q.Lazy = len(q.Types) > 0
	events, err := s.st.ListEvents(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	next := q.After
	// The body is built from each event's JSON, rather than from a struct holding them, so that the
	// bytes of an event here are the bytes EventJSON gives a webhook.
	b := make([]byte, 0, 64+len(events)*512)
	b = append(b, `{"data":[`...)
	for i, e := range events {
		ej, err := store.EventJSON(e)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, ej...)
		next = e.Seq
	}
	if len(events) < q.Limit && last > next {
		next = last
	}
	b = append(b, `],"next_after":`...)
	b = strconv.AppendInt(b, next, 10)
	b = append(b, '}')
	writeJSON(w, http.StatusOK, json.RawMessage(b))
}
