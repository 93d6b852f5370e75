package samlsp

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/internal/page"
	"github.com/scimsso/scimsso/store"
)

// MaxTestLinkLifetime bounds how long a test link may wait to be opened.
const MaxTestLinkLifetime = 7 * 24 * time.Hour

// NewTestLink makes a one-time link that starts a test sign-in of tenant t at the server whose public
// base URL is baseURL, valid until expires, and returns it. The link carries 256 random bits; only
// their SHA-256 is stored, and opening the link uses it up. It is what an admin of the tenant would be
// given (the operator, until the admin console exists): anyone holding it can start one test sign-in.
func NewTestLink(ctx context.Context, st store.Store, baseURL string, t *store.Tenant, expires time.Time) (string, error) {
	token, hash, err := store.NewSecret("")
	if err != nil {
		return "", err
	}
	if err := st.CreateTestLink(ctx, &store.TestLink{TenantID: t.ID, Hash: hash, ExpiresAt: expires}); err != nil {
		return "", fmt.Errorf("samlsp: test link: %w", err)
	}
	return strings.TrimRight(baseURL, "/") + "/saml/" + url.PathEscape(t.Slug) + "/test?token=" + token, nil
}

//go:embed templates/report.html
var templateFS embed.FS

// reportPage is the test sign-in's report, inside the common frame. It is SAML's: it shows what the IdP
// sent and how the assertion was verified, which only this package knows.
var reportPage = page.Parse(templateFS, "templates/report.html")

type reportAttr struct {
	Name   string
	Values []string
}

type nameValue struct{ Name, Value string }

type reportView struct {
	page.View
	Outcome                      string
	Issuer, NameID, NameIDFormat string
	Signed, Algorithms           []string
	Certificate                  string
	Encrypted, Solicited         bool
	Attributes                   []reportAttr
	Read                         []nameValue
	Missing                      []string
}

// testReport answers a test sign-in (an answer to /saml/{tenant}/test, or any sign-in while the tenant
// is testing): what the IdP sent, which certificate and algorithms verified it, and what scimsso would
// do, with nothing written. The precise reason of a refusal is shown only for an answer to a test
// request, which was started in this browser; anyone else sees the usual refusal page.
func (s *Server) testReport(w http.ResponseWriter, r *http.Request, log *zap.Logger, a *accepted, verr error) {
	ref := page.Ref(r)
	asked := a != nil && a.request != nil && a.request.Purpose == store.PurposeTest
	var rf *refusal
	if verr != nil && (!asked || !errors.As(verr, &rf)) {
		// Not a test the admin asked for (anyone's post while the tenant is testing), or not a refusal
		// of the response: an ordinary refusal, recorded as one.
		s.logRefusal(r, log, a, store.SignInSAML, verr)
		s.refused(w, log, ref, verr)
		return
	}
	v := reportView{View: page.View{Title: "Test sign-in", Ref: ref}, Solicited: a.request != nil, Encrypted: a.info.Encrypted}
	if verr != nil {
		v.Outcome = fmt.Sprintf("scimsso would refuse this sign-in (%s): %s.", rf.code, rf.reason)
		log.Info("test sign-in", zap.String("outcome", "refused"), zap.String("code", rf.code), zap.String("reason", rf.reason))
		s.logTest(r, log, a, "", "", rf)
	}
	if as := a.assertion; as != nil {
		if as.Issuer.Value != "" {
			v.Issuer = as.Issuer.Value
		}
		if as.Subject != nil && as.Subject.NameID != nil {
			v.NameID, v.NameIDFormat = as.Subject.NameID.Value, as.Subject.NameID.Format
		}
		for _, st := range as.AttributeStatements {
			for _, at := range st.Attributes {
				ra := reportAttr{Name: at.Name}
				for _, x := range at.Values {
					ra.Values = append(ra.Values, x.Value)
				}
				v.Attributes = append(v.Attributes, ra)
			}
		}
	}
	if vf := a.verifier; vf != nil {
		v.Signed, v.Algorithms = vf.verified, dedupe(vf.algorithms)
		if c := vf.usedCert; c != nil {
			fp := sha256.Sum256(c.Raw)
			v.Certificate = fmt.Sprintf("%s, SHA-256 fingerprint %X, valid until %s", c.Subject.String(), fp, c.NotAfter.UTC().Format(time.DateOnly))
			if s.now().After(c.NotAfter) {
				v.Certificate += " (expired; accepted because it is pinned in the tenant's IdP metadata)"
			}
		}
	}
	if cl := a.claims; cl != nil {
		v.Read = []nameValue{{"Email", cl.Email}, {"First name", cl.FirstName}, {"Last name", cl.LastName}, {"Country", cl.Country},
			{"Department", cl.Department}, {"Principal id", cl.PrincipalID}, {"Secondary email", cl.SecondaryEmail}}
	}
	if verr == nil {
		var d *decision
		err := s.st.Lookup(r.Context(), a.c.tenant.ID, func(f store.UserFinder) error {
			var err error
			d, err = reconcile(f, a.c.tenant, a.c.set, a.c.attrs, a.claims)
			return err
		})
		switch {
		case errors.As(err, &rf):
			v.Outcome = fmt.Sprintf("scimsso would refuse this sign-in (%s): %s.", rf.code, rf.reason)
			s.logTest(r, log, a, "", "", rf)
		case err != nil:
			s.internal(w, r, "test sign-in", err)
			return
		case d.matched == "created":
			v.Outcome = fmt.Sprintf("scimsso would create user %s just in time (%s %s, country %q, team %q).", d.user.UserName,
				d.user.GivenName, d.user.FamilyName, d.user.Country, d.user.Team)
		default:
			v.Outcome = fmt.Sprintf("scimsso would sign in user %s (%s), matched by %s.", d.user.ID, d.user.UserName, d.matched)
		}
		if d != nil {
			v.Missing = d.ask
			s.logTest(r, log, a, v.Outcome, d.user.ID, nil)
			// A sign-in scimsso would accept, with the settings at this version: the console lets SSO go
			// active only after one (store.AdminStore.RecordSSOTestPassed). Only the answer to a test an
			// admin started counts: its request is used up by that answer, so each test buys one write,
			// whereas anyone's sign-in while the tenant is testing, or a response posted again (a report
			// writes no replay entry), could neither vouch for the admin's settings nor be bounded.
			if asked {
				if err := s.st.RecordSSOTestPassed(r.Context(), a.c.tenant.ID, a.c.set.Version); err != nil {
					log.Warn("test sign-in not recorded", zap.Error(err))
				}
			}
		}
		log.Info("test sign-in", zap.String("outcome", v.Outcome))
	}
	for i := range v.Read {
		if v.Read[i].Value == "" {
			v.Read[i].Value = "—"
		}
	}
	page.Render(w, reportPage, http.StatusOK, "report", v)
}

// dedupe is xs without empty strings and repeats, in order.
func dedupe(xs []string) []string {
	return store.Dedupe(slices.DeleteFunc(slices.Clone(xs), func(x string) bool { return x == "" }))
}
