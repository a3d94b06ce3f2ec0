//! One file per page.

pub mod credential_form;
pub mod credential_option;
pub mod credentials;
pub mod dashboard;
pub mod login;
pub mod runs;
pub mod system;
pub mod system_backup;
pub mod system_notify;
pub mod system_oauth;
pub mod system_tokens;
pub mod system_truenas;
pub mod task_fields;
pub mod task_form;
pub mod task_plan;
pub mod task_schedule;
pub mod tasks;
