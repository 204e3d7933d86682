/* Device secrets in the form Mosquitto's password file expects, so citydesk can keep the
 * broker's logins in step with the registry without running mosquitto_passwd: PBKDF2 with
 * HMAC-SHA-512, 101 iterations, a 12-byte random salt, "$7$101$<base64 salt>$<base64 hash>",
 * which is what mosquitto_passwd 2.0 writes and the broker's password check reads. */
#include "net/broker.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define SALT_LEN 12    /* mosquitto_passwd's SALT_LEN */
#define HASH_LEN 64    /* SHA-512 output */
#define ITERATIONS 101 /* mosquitto_passwd's PW_DEFAULT_ITERATIONS */

enum cd_err broker_password_hash(const char *secret, char out[BROKER_HASH_MAX])
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	/* base64 of 12 and 64 bytes: 16 and 88 characters, plus the NUL EVP_EncodeBlock writes */
	unsigned char salt64[4 * ((SALT_LEN + 2) / 3) + 1], hash64[4 * ((HASH_LEN + 2) / 3) + 1];
	out[0] = '\0';
	if (!secret || !*secret)
		return CD_ERR_INVALID;
	if (RAND_bytes(salt, sizeof salt) != 1)
		return CD_ERR_IO;
	if (PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, sizeof salt, ITERATIONS, EVP_sha512(),
			      sizeof hash, hash) != 1)
		return CD_ERR_IO;
	EVP_EncodeBlock(salt64, salt, sizeof salt);
	EVP_EncodeBlock(hash64, hash, sizeof hash);
	/* "$7$101$" 7 + 16 + "$" 1 + 88 = 112 characters, well within BROKER_HASH_MAX */
	size_t pos = 0;
	static const char head[] = "$7$101$";
	memcpy(out + pos, head, sizeof head - 1);
	pos += sizeof head - 1;
	memcpy(out + pos, salt64, sizeof salt64 - 1);
	pos += sizeof salt64 - 1;
	out[pos++] = '$';
	memcpy(out + pos, hash64, sizeof hash64 - 1);
	pos += sizeof hash64 - 1;
	out[pos] = '\0';
	return CD_OK;
}
