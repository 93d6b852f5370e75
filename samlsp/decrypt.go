package samlsp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
)

// crewjam v0.5.1's xmlenc panics on AES-CBC ciphertext that is not whole blocks, on AES-GCM ciphertext
// shorter than a nonce, and on 3DES with an 8-byte key; anyone holding a tenant's public SP
// certificate can send those. Its registry is a global map that a later registration overwrites, so
// scimsso replaces the AES decrypters with length-checked ones (adding the GCM key sizes Okta offers)
// and refuses RSA-1_5 and 3DES. The guard refuses those algorithms too; this is the second line.
func init() {
	for _, d := range []aesDecrypter{
		{"http://www.w3.org/2001/04/xmlenc#aes128-cbc", 16, false},
		{"http://www.w3.org/2001/04/xmlenc#aes192-cbc", 24, false},
		{"http://www.w3.org/2001/04/xmlenc#aes256-cbc", 32, false},
		{"http://www.w3.org/2009/xmlenc11#aes128-gcm", 16, true},
		{"http://www.w3.org/2009/xmlenc11#aes192-gcm", 24, true},
		{"http://www.w3.org/2009/xmlenc11#aes256-gcm", 32, true},
	} {
		xmlenc.RegisterDecrypter(d)
	}
	xmlenc.RegisterDecrypter(refused("http://www.w3.org/2001/04/xmlenc#rsa-1_5"))
	xmlenc.RegisterDecrypter(refused("http://www.w3.org/2001/04/xmlenc#tripledes-cbc"))
}

// offeredEncryption is what the SP metadata asks IdPs to encrypt with, most preferred first (IdPs that
// read it, such as Shibboleth and SimpleSAMLphp, take the first they support). AES-GCM is
// authenticated: a changed ciphertext fails as a whole, so nothing about its plaintext can be learnt
// from how it fails. AES-CBC comes after because Entra and ADFS encrypt with AES-256-CBC whatever the
// metadata says (their admins set it by hand), so it keeps being decrypted; only one reason is ever
// given for a failure (errUnreadable), which is what a padding oracle needs to tell apart.
// The 192-bit sizes are decrypted but not offered.
func offeredEncryption() []saml.EncryptionMethod {
	return []saml.EncryptionMethod{
		{Algorithm: "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
		{Algorithm: "http://www.w3.org/2009/xmlenc11#aes128-gcm"},
		{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
		{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes128-cbc"},
		{Algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"},
	}
}

// refused is a registry entry that declines an algorithm.
type refused string

func (r refused) Algorithm() string { return string(r) }

func (r refused) Decrypt(any, *etree.Element) ([]byte, error) {
	return nil, fmt.Errorf("encryption algorithm %s is refused", string(r))
}

// aesDecrypter decrypts AES-CBC or AES-GCM EncryptedData with every length checked first, and runs the
// guard on the plaintext before crewjam parses it (an EncryptedAssertion's is the only EncryptedData
// crewjam decrypts with these).
type aesDecrypter struct {
	alg     string
	keySize int
	gcm     bool
}

func (d aesDecrypter) Algorithm() string { return d.alg }

func (d aesDecrypter) Decrypt(key any, el *etree.Element) ([]byte, error) {
	pt, err := d.decrypt(key, el)
	if err != nil {
		return nil, err
	}
	if err := guardPlaintext(pt); err != nil {
		return nil, err
	}
	return pt, nil
}

func (d aesDecrypter) decrypt(key any, el *etree.Element) ([]byte, error) {
	if ek := el.FindElement("./KeyInfo/EncryptedKey"); ek != nil {
		var err error
		if key, err = xmlenc.Decrypt(key, ek); err != nil {
			return nil, err
		}
	}
	k, ok := key.([]byte)
	if !ok || len(k) != d.keySize {
		return nil, fmt.Errorf("%s needs a %d-byte key", d.alg, d.keySize)
	}
	cv := el.FindElement("./CipherData/CipherValue")
	if cv == nil {
		return nil, errors.New("no CipherData/CipherValue")
	}
	ct, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cv.Text()), ""))
	if err != nil {
		return nil, fmt.Errorf("CipherValue: %v", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	if d.gcm {
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if len(ct) < g.NonceSize()+g.Overhead() {
			return nil, errors.New("AES-GCM ciphertext is too short")
		}
		return g.Open(nil, ct[:g.NonceSize()], ct[g.NonceSize():], nil)
	}
	if len(ct) < 2*aes.BlockSize || len(ct)%aes.BlockSize != 0 {
		return nil, errors.New("AES-CBC ciphertext is not whole blocks after the IV")
	}
	pt := make([]byte, len(ct)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, ct[:aes.BlockSize]).CryptBlocks(pt, ct[aes.BlockSize:])
	// XML Encryption padding: the last byte is the pad length (1..16); the other pad bytes are arbitrary.
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, errors.New("AES-CBC padding is invalid")
	}
	return pt[:len(pt)-pad], nil
}
