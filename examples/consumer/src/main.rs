//! Prints one line per crate from the demo registry. The output is fixed for a given set
//! of crates, so tests compare it as a whole.

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn main() {
    println!("demo-base: {}", demo_base::greeting());
    println!(
        "demo-base some-feature: {}",
        on_off(demo_base::some_feature())
    );
    println!(
        "demo-features base: {}",
        demo_features::base_greeting().unwrap_or("(feature base off)")
    );
    println!(
        "demo-features weak feature: {}",
        demo_features::base_some_feature().map_or("(feature base off)", on_off)
    );
    println!("demo-features extra: {}", on_off(demo_features::extra()));
    println!(
        "demo-features itoa: {}",
        demo_features::format_number(1234567)
    );
    println!(
        "demo-features renamed: {}",
        demo_features::renamed_describe()
    );
    match demo_features::sys_built() {
        Some(v) => println!("demo-sys: DEMO_SYS_BUILT={v}"),
        None => println!("demo-sys: not a dependency on this target"),
    }
    println!("ws-app: {}", ws_app::describe());
    println!("consumer: done");
}
