package webpushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Decrypt opens the body of a Web Push message as the browser does: one
// aes128gcm record (RFC 8188) whose key comes from ECDH between the
// sender's key (the record header's keyid) and the subscription's
// private key, mixed with the auth secret (RFC 8291 §3.4). It refuses
// what a browser would: a keyid that is not a P-256 point, more than one
// record, a bad tag, padding that does not end in the last-record
// delimiter.
func Decrypt(body []byte, priv *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	const saltLen, tagLen = 16, 16
	if len(body) < saltLen+4+1 {
		return nil, errors.New("aes128gcm: body shorter than the header")
	}
	salt := body[:saltLen]
	rs := binary.BigEndian.Uint32(body[saltLen:])
	idLen := int(body[saltLen+4])
	if idLen != 65 {
		return nil, fmt.Errorf("aes128gcm: keyid is %d bytes, want the sender's 65-byte P-256 public key (RFC 8291 §4)", idLen)
	}
	if len(body) < saltLen+5+idLen {
		return nil, errors.New("aes128gcm: body shorter than its keyid")
	}
	senderKey := body[saltLen+5 : saltLen+5+idLen]
	record := body[saltLen+5+idLen:]
	switch {
	case rs < 18:
		return nil, fmt.Errorf("aes128gcm: record size %d is below 18", rs)
	case uint64(len(record)) > uint64(rs):
		return nil, fmt.Errorf("aes128gcm: %d bytes of ciphertext exceed the record size %d: a push message is one record (RFC 8291 §4)", len(record), rs)
	case len(record) < tagLen+1:
		return nil, errors.New("aes128gcm: record shorter than a tag and a delimiter")
	}
	sender, err := ecdh.P256().NewPublicKey(senderKey)
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: keyid is not a P-256 point: %w", err)
	}
	shared, err := priv.ECDH(sender)
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: ECDH: %w", err)
	}
	// RFC 8291 §3.4: IKM = HKDF(auth, ecdh, "WebPush: info" 0 ua_public as_public, 32).
	info := append([]byte("WebPush: info\x00"), priv.PublicKey().Bytes()...)
	info = append(info, senderKey...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	// RFC 8188 §2.2 and §2.3: CEK and NONCE from the salt.
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The first (and only) record: sequence number 0, so the nonce as is.
	plain, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, errors.New("aes128gcm: authentication failed (wrong keys, or the body was changed)")
	}
	// Padding: the data, one delimiter (2 for the last record), zeros.
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("aes128gcm: the record does not end with the last-record delimiter 0x02")
	}
	return plain[:i], nil
}
