#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_recovery.h>
// getrandom(2), for SecureRandom: Swift's Glibc module does not show it.
#include <sys/random.h>
