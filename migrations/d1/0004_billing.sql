CREATE TABLE `billing_accounts` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`stripe_customer_id` text NOT NULL,
	`stripe_subscription_id` text NOT NULL,
	`stripe_fee_item_id` text NOT NULL,
	`stripe_metered_item_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `meter_reports` (
	`identifier` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`meter` text NOT NULL,
	`source` text NOT NULL,
	`hour` integer NOT NULL,
	`metric` text NOT NULL,
	`value` integer NOT NULL,
	`reported_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `meter_reports_usage` ON `meter_reports` (`tenant_id`,`hour`,`source`,`metric`);--> statement-breakpoint
CREATE TABLE `stripe_events` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`received_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `usage_hourly` (
	`tenant_id` text NOT NULL,
	`source` text NOT NULL,
	`hour` integer NOT NULL,
	`metric` text NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `source`, `hour`, `metric`, `reason`)
);
--> statement-breakpoint
CREATE INDEX `usage_hourly_hour` ON `usage_hourly` (`hour`);--> statement-breakpoint
ALTER TABLE `tenants` ADD `suspend_at` integer;