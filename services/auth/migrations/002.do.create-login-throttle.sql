-- Failed-login counters shared by every auth replica (rate-limiter-flexible's
-- MySQL layout). One table holds both counters, told apart by key prefix
-- ("email:", "ip:"); keys are hashes, so no email or address is stored in clear.
CREATE TABLE login_failures (
  `key` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  points INT NOT NULL DEFAULT 0,
  expire BIGINT UNSIGNED,
  PRIMARY KEY (`key`)
) ENGINE = InnoDB;
