CREATE TABLE `encryption_keys` (
	`tenant_id` text NOT NULL,
	`kid` text NOT NULL,
	`name` text NOT NULL,
	`public_jwk` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`revoked_at` integer,
	PRIMARY KEY(`tenant_id`, `kid`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
