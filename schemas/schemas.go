// Package schemas holds scimsso's SCIM schemas, as elimity-com/scim schema definitions, and its ISO 3166-1
// country rules.
package schemas

import (
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// URNs of the SCIM schemas and messages scimsso speaks (RFC 7643, RFC 7644).
const (
	// CoreUserURN identifies the core User schema.
	CoreUserURN = "urn:ietf:params:scim:schemas:core:2.0:User"
	// EnterpriseUserURN identifies the enterprise User extension; its
	// attributes sit under this key in a User body.
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// ListResponseURN identifies a list (query) response.
	ListResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	// ErrorURN identifies a SCIM error document.
	ErrorURN = "urn:ietf:params:scim:api:messages:2.0:Error"
	// PatchOpURN identifies a PATCH request body.
	PatchOpURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	// ServiceProviderConfigURN identifies the service provider configuration.
	ServiceProviderConfigURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	// ResourceTypeURN identifies a resource type description.
	ResourceTypeURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	// SchemaURN identifies a schema description.
	SchemaURN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// User returns the core User schema (CoreUserURN): every RFC 7643 User
// attribute, which scimserver reads POST, PUT and PATCH bodies against (so
// that Okta and Entra bodies validate and unknown attributes are dropped) and
// serves at /Schemas, plus two common attributes the library's schema lacks:
//
//   - id: readOnly, not required, caseExact, returned always. With it
//     `filter=id eq "…"` validates; a client-supplied id in a POST or PUT
//     body is ignored (readOnly), and a body without one still validates.
//   - externalId: readWrite, caseExact, a simple string. With it
//     `filter=externalId eq "…"` validates. The library adds its own
//     externalId when it validates a POST, PUT or PATCH; the duplicate is
//     harmless (both yield the same "externalId" attribute).
//
// password is writeOnly and returned never, as in RFC 7643; the library does
// not enforce "returned", so the handler must never put it in a response.
//
// The Attributes slice has no spare capacity: elimity's server (which
// scimserver no longer uses, the tests here still do) appends to it on every
// POST, PUT and PATCH, and spare capacity would make concurrent requests
// write the same backing array. Building the schema costs ~100 µs and
// ~1,000 allocations, so call User once at start-up and share the result;
// each call returns a new value the caller may change.
func User() schema.Schema {
	core := schema.CoreUserSchema()
	attrs := make(schema.Attributes, 0, len(core.Attributes)+2)
	attrs = append(attrs,
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact:   true,
			Description: optional.NewString("A unique identifier for a SCIM resource as defined by the service provider."),
			Mutability:  schema.AttributeMutabilityReadOnly(),
			Name:        schema.CommonAttributeID,
			Returned:    schema.AttributeReturnedAlways(),
			Uniqueness:  schema.AttributeUniquenessServer(),
		})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact:   true,
			Description: optional.NewString("A String that is an identifier for the resource as defined by the provisioning client."),
			Mutability:  schema.AttributeMutabilityReadWrite(),
			Name:        schema.CommonAttributeExternalID,
			Uniqueness:  schema.AttributeUniquenessNone(),
		})),
	)
	attrs = append(attrs, core.Attributes...)
	core.Attributes = attrs[:len(attrs):len(attrs)]
	return core
}

// EnterpriseUser returns the enterprise User extension schema
// (EnterpriseUserURN) from RFC 7643, with department among its attributes.
// Its Attributes slice has no spare capacity, for the reason given at User.
// Call it once at start-up and share the result; each call returns a new
// value the caller may change.
func EnterpriseUser() schema.Schema {
	s := schema.ExtensionEnterpriseUser()
	s.Attributes = s.Attributes[:len(s.Attributes):len(s.Attributes)]
	return s
}
