"""Remote opening (不见面开标): sign-in, key release and decryption, the opening record, objections."""
