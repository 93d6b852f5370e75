package samlsp

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits of the pre-parse guard. A real response is 4-20 KiB with 40-200 elements; Entra caps group
// claims at 150 before switching to a link. 900 elements stays clear of the ~1000-element subtree at
// which goxmldsig 1.6.1 makes crewjam v0.5.1 panic, and of the CPU a wide tree costs before any
// signature is looked at.
const (
	maxResponseBytes = 256 << 10
	maxElements      = 900
	maxDepth         = 64
)

// Algorithms the guard accepts, from the one table (decrypt.go's encryptionAlgorithms): for an
// EncryptedAssertion's EncryptedData, AES only, through scimsso's own decrypters, which guard the
// plaintext before any parser sees it; for an EncryptedKey, RSA-OAEP. Read only after they are built.
var (
	contentEncryption = acceptedEncryption(false)
	keyTransport      = acceptedEncryption(true)
)

// guardInfo is what the guard read from the response. None of it is authenticated: it only chooses
// which outstanding request to look up and which URL the testing-only destination bypass expects.
type guardInfo struct {
	ResponseID     string
	InResponseTo   string
	Destination    string
	Recipient      string // the first SubjectConfirmationData's
	ResponseSigned bool   // a Signature is a direct child of the Response
	Encrypted      bool   // the one assertion is an EncryptedAssertion
	Issuer         string // the Response's Issuer text, unverified
}

// errGuard marks a response refused by the guard.
var errGuard = errors.New("refused before parsing")

// guard is the spec's cheap check that runs before any XML library sees a response: one pass over the
// bytes, no allocation beyond the few attribute values it returns. It refuses a DOCTYPE (and with it
// every entity trick), more than maxElements elements or maxDepth levels, an element with a repeated
// attribute, a root that is not a Response, anything but exactly one Assertion or EncryptedAssertion
// as a direct child of the Response and none anywhere else (the signature-wrapping shapes), and
// encryption algorithms other than contentEncryption's for data and keyTransport's for keys. It does not check well-formedness; the parser after
// it does.
func guard(b []byte) (guardInfo, error) { return scan(b, "Response") }

// guardPlaintext is the same guard for a decrypted EncryptedAssertion, run before any parser sees the
// plaintext: the ciphertext's size says nothing of the element count inside, and an empty or text-only
// plaintext made crewjam v0.5.1 panic. The root must be the one Assertion, with no other inside it.
func guardPlaintext(b []byte) error {
	_, err := scan(b, "Assertion")
	return err
}

// scan is the guard over a document whose root element's local name is root ("Response" or
// "Assertion").
func scan(b []byte, root string) (guardInfo, error) {
	var info guardInfo
	fail := func(format string, args ...any) (guardInfo, error) {
		return guardInfo{}, fmt.Errorf("%w: "+format, append([]any{errGuard}, args...)...)
	}
	if len(b) > maxResponseBytes {
		return fail("document is %d bytes, more than %d", len(b), maxResponseBytes)
	}
	depth, elements, assertions := 0, 0, 0
	rootDone := false
	names := make([][]byte, 0, 16) // the attribute names of one start tag, reused
	var open [maxDepth + 1][]byte  // the local names of the elements open at each depth
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			k := bytes.Index(rest, []byte("?>"))
			if k < 0 {
				return fail("unterminated processing instruction")
			}
			i += k + 2
			continue
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(rest[4:], []byte("-->"))
			if k < 0 {
				return fail("unterminated comment")
			}
			i += 4 + k + 3
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			k := bytes.Index(rest, []byte("]]>"))
			if k < 0 {
				return fail("unterminated CDATA section")
			}
			i += k + 3
			continue
		case bytes.HasPrefix(rest, []byte("<!")):
			return fail("a DOCTYPE or other declaration is not allowed")
		case bytes.HasPrefix(rest, []byte("</")):
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return fail("unterminated end tag")
			}
			depth--
			if depth < 0 {
				return fail("end tag without a start tag")
			}
			if depth == 0 {
				rootDone = true
			}
			i += k + 1
			continue
		}
		// A start tag: its name, then attributes up to the '>' that is not inside a quoted value.
		end, selfClosing := tagEnd(rest)
		if end < 0 {
			return fail("unterminated start tag")
		}
		tag := rest[1:end]
		name := tag
		if k := bytes.IndexAny(name, " \t\r\n/"); k >= 0 {
			name = name[:k]
		}
		if !qname(name) {
			return fail("element name %q is not a qualified name", name)
		}
		local := localName(name)
		elements++
		if elements > maxElements {
			return fail("more than %d elements", maxElements)
		}
		if rootDone {
			return fail("content after the root element")
		}
		var ok bool
		if names, ok = tagAttrNames(tag, names[:0]); !ok {
			return fail("the attributes of %s are not name=\"value\" pairs", name)
		} else if n := repeated(names); n != "" {
			return fail("%s has the attribute %s twice", name, n)
		}
		isAssertion := string(local) == "Assertion" || string(local) == "EncryptedAssertion"
		switch {
		case depth == 0:
			if string(local) != root {
				return fail("root element is %s, not a %s", name, root)
			}
			if root == "Response" {
				info.ResponseID = attr(tag, "ID")
				info.InResponseTo = attr(tag, "InResponseTo")
				info.Destination = attr(tag, "Destination")
			}
		case depth == 1 && isAssertion && root == "Response":
			assertions++
			info.Encrypted = string(local) == "EncryptedAssertion"
		case isAssertion:
			return fail("an %s inside %s is not allowed", local, "another element")
		case depth == 1 && root == "Response" && string(local) == "Signature":
			info.ResponseSigned = true
		case depth == 1 && root == "Response" && string(local) == "Issuer" && !selfClosing:
			// The issuer as the response names it, unverified: only the sign-in log's class uses it.
			text := rest[end+1:]
			if k := bytes.IndexByte(text, '<'); k >= 0 {
				info.Issuer = string(bytes.TrimSpace(text[:k]))
			}
		case string(local) == "EncryptionMethod":
			allowed, what := contentEncryption, "data"
			if depth > 0 && string(open[depth-1]) == "EncryptedKey" {
				allowed, what = keyTransport, "key"
			}
			if alg := attr(tag, "Algorithm"); !allowed[alg] {
				return fail("encryption algorithm %q is not accepted for encrypted %s", alg, what)
			}
		case string(local) == "SubjectConfirmationData" && info.Recipient == "":
			info.Recipient = attr(tag, "Recipient")
		}
		if !selfClosing {
			open[depth] = local
			depth++
			if depth > maxDepth {
				return fail("elements nested more than %d deep", maxDepth)
			}
		} else if depth == 0 {
			rootDone = true
		}
		i += end + 1
	}
	switch {
	case !rootDone || depth != 0:
		return fail("no complete %s element", root)
	case root == "Response" && assertions != 1:
		return fail("the Response holds %d assertions, not exactly one", assertions)
	}
	return info, nil
}

// repeated returns an attribute local name that occurs twice in names, or "". Local names are compared
// whatever their prefixes: encoding/xml (and so crewjam's structs) matches an attribute by its local
// name alone, in any namespace and even on a namespace declaration (xmlns:ID), while etree and the
// signature check read only the unprefixed one. Two attributes of one local name are never needed in
// SAML, so none is allowed.
func repeated(names [][]byte) string {
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if bytes.Equal(localName(names[i]), localName(names[j])) {
				return string(names[j])
			}
		}
	}
	return ""
}

// qname reports whether n is a name the XML namespaces spec allows: at most one colon, neither first nor
// last. Parsers split other names differently, so the guard would read another local name than they.
func qname(n []byte) bool {
	k := bytes.IndexByte(n, ':')
	return len(n) > 0 && (k < 0 || (k > 0 && k < len(n)-1 && bytes.IndexByte(n[k+1:], ':') < 0))
}

func localName(n []byte) []byte {
	if k := bytes.LastIndexByte(n, ':'); k >= 0 {
		return n[k+1:]
	}
	return n
}

// tagEnd returns the index of the '>' closing the start tag at the beginning of b, skipping quoted
// attribute values, and whether the tag closes itself; -1 if it is not closed.
func tagEnd(b []byte) (int, bool) {
	var quote byte
	for k := 1; k < len(b); k++ {
		c := b[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			return -1, false
		case c == '>':
			return k, b[k-1] == '/'
		}
	}
	return -1, false
}

// tagAttrNames appends the names of a start tag's attributes (its bytes without '<' and '>') to names; ok
// is false when the attributes are not name="value" pairs (or name='value') with qualified names, which
// no parser reads as the guard would.
func tagAttrNames(tag []byte, names [][]byte) ([][]byte, bool) {
	good := true
	ok := eachAttr(tag, func(n, _ []byte) bool {
		names = append(names, n)
		good = qname(n)
		return good
	})
	return names, ok && good
}

// attr returns the value of the unprefixed attribute name in a start tag's bytes (without '<' and
// '>'), or "". It walks the attributes one by one, so a name inside another attribute's value never
// matches.
func attr(tag []byte, name string) string {
	v := ""
	eachAttr(tag, func(n, val []byte) bool {
		if string(n) == name {
			v = string(val)
			return false
		}
		return true
	})
	return v
}

// eachAttr calls fn with the name and value of each attribute of a start tag (its bytes without '<'
// and '>', a trailing '/' allowed) until fn returns false. It reports whether the attributes it walked
// were well-formed name="value" pairs.
func eachAttr(tag []byte, fn func(name, value []byte) bool) bool {
	k := bytes.IndexAny(tag, " \t\r\n/")
	if k < 0 {
		return true
	}
	for {
		for k < len(tag) && isSpace(tag[k]) {
			k++
		}
		if k == len(tag) || (k == len(tag)-1 && tag[k] == '/') {
			return true
		}
		start := k
		for k < len(tag) && tag[k] != '=' && tag[k] != '/' && !isSpace(tag[k]) {
			k++
		}
		n := tag[start:k]
		for k < len(tag) && isSpace(tag[k]) {
			k++
		}
		if len(n) == 0 || k >= len(tag) || tag[k] != '=' {
			return false
		}
		k++
		for k < len(tag) && isSpace(tag[k]) {
			k++
		}
		if k >= len(tag) || (tag[k] != '"' && tag[k] != '\'') {
			return false
		}
		e := bytes.IndexByte(tag[k+1:], tag[k])
		if e < 0 {
			return false
		}
		v := tag[k+1 : k+1+e]
		k += e + 2
		if !fn(n, v) {
			return true
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
