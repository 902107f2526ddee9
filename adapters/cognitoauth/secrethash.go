package cognitoauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// SecretHash is the SECRET_HASH Cognito wants from app clients that have a
// secret: Base64(HMAC-SHA256(key = clientSecret, message = username + clientID)).
// username is the name the call identifies the user by (here the email).
func SecretHash(username, clientID, clientSecret string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte(username))
	mac.Write([]byte(clientID))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
