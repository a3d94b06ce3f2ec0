// The migrations are compiled in (`sqlx::migrate!`): a new one must rebuild the server.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
