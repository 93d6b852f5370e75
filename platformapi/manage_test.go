package platformapi_test

import (
	"time"

	"go.uber.org/zap"

	"github.com/scimsso/scimsso/openid"
	"github.com/scimsso/scimsso/platformapi"
	"github.com/scimsso/scimsso/samlsp"
	"github.com/scimsso/scimsso/store"
	"github.com/scimsso/scimsso/webhooks"
)

// manageConfig is the platform API's Config as cmd wires it: the same key pairs, client rule and
// metadata reader as the CLI, webhooks to loopback allowed (as serve --allow-http-loopback-webhooks).
func manageConfig(st store.Store, log *zap.Logger, base string) platformapi.Config {
	return platformapi.Config{
		Store: st, Logger: log, BaseURL: base,
		NewSPKeyPair: func(slug string) ([]byte, []byte, error) { return samlsp.GenerateKeyPair("scimsso "+slug, time.Now()) },
		NewOIDCClient: func(spec store.OIDCClientSpec) (*store.OIDCClient, string, error) {
			return openid.NewClient(spec, func(u string) error { return webhooks.CheckURL(u, true) })
		},
		ParseIdPMetadata: func(b []byte) (platformapi.IdPMetadata, error) {
			idp, err := samlsp.ParseIdPMetadata(b)
			if err != nil {
				return platformapi.IdPMetadata{}, err
			}
			return platformapi.IdPMetadata{EntityID: idp.EntityID, SSOURL: idp.SSOURL, CertificatesPEM: idp.CertificatesPEM}, nil
		},
		AllowHTTPLoopback: true,
	}
}
