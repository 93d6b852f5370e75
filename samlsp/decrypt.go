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

// encryptionAlgorithm is one XML Encryption algorithm and what scimsso does with it.
type encryptionAlgorithm struct {
	uri        string
	key        bool // key transport (an EncryptedKey's), else content encryption (EncryptedData's)
	offered    bool // asked for in the SP metadata, in the table's order
	refused    bool // refused by the guard and by crewjam's registry
	aesKeySize int  // content: the AES key's bytes, decrypted by aesDecrypter
	gcm        bool // content: AES-GCM, else AES-CBC
}

// encryptionAlgorithms is the one list of encryption algorithms: the guard accepts what it does not
// refuse (acceptedEncryption), crewjam's registry gets scimsso's decrypters and refusals from it
// (registerDecrypters) and the metadata offers its offered ones in order (offeredEncryption).
//
// Offered, most preferred first (IdPs that read it, such as Shibboleth and SimpleSAMLphp, take the
// first they support): AES-GCM is authenticated, so a changed ciphertext fails as a whole and nothing
// about its plaintext can be learnt from how it fails. AES-CBC comes after because Entra and ADFS
// encrypt with AES-256-CBC whatever the metadata says (their admins set it by hand), so it keeps being
// decrypted; only one reason is ever given for a failure (errUnreadable), which is what a padding
// oracle needs to tell apart. The 192-bit sizes are decrypted but not offered. RSA on the data itself
// is not listed, so the guard refuses it: crewjam would decrypt that straight with the SP key and
// parse it, past the plaintext guard. RSA-1_5 is refused (Bleichenbacher), and 3DES.
var encryptionAlgorithms = []encryptionAlgorithm{
	{uri: "http://www.w3.org/2009/xmlenc11#aes256-gcm", offered: true, aesKeySize: 32, gcm: true},
	{uri: "http://www.w3.org/2009/xmlenc11#aes128-gcm", offered: true, aesKeySize: 16, gcm: true},
	{uri: "http://www.w3.org/2001/04/xmlenc#aes256-cbc", offered: true, aesKeySize: 32},
	{uri: "http://www.w3.org/2001/04/xmlenc#aes128-cbc", offered: true, aesKeySize: 16},
	{uri: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", key: true, offered: true},
	{uri: "http://www.w3.org/2009/xmlenc11#aes192-gcm", aesKeySize: 24, gcm: true},
	{uri: "http://www.w3.org/2001/04/xmlenc#aes192-cbc", aesKeySize: 24},
	{uri: "http://www.w3.org/2009/xmlenc11#rsa-oaep", key: true},
	{uri: "http://www.w3.org/2001/04/xmlenc#rsa-1_5", key: true, refused: true},
	{uri: "http://www.w3.org/2001/04/xmlenc#tripledes-cbc", refused: true},
}

// acceptedEncryption returns the algorithms the guard accepts for key transport (key) or content.
func acceptedEncryption(key bool) map[string]bool {
	m := map[string]bool{}
	for _, a := range encryptionAlgorithms {
		if a.key == key && !a.refused {
			m[a.uri] = true
		}
	}
	return m
}

// offeredEncryption is what the SP metadata asks IdPs to encrypt with, most preferred first.
func offeredEncryption() []saml.EncryptionMethod {
	var out []saml.EncryptionMethod
	for _, a := range encryptionAlgorithms {
		if a.offered {
			out = append(out, saml.EncryptionMethod{Algorithm: a.uri})
		}
	}
	return out
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
