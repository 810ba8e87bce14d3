CREATE TABLE `saved_searches` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`params` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`created_by` text NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `saved_searches_tenant_name` ON `saved_searches` (`tenant_id`,`name`);--> statement-breakpoint
CREATE INDEX `saved_searches_tenant_created` ON `saved_searches` (`tenant_id`,`created_at`);