//! The `maestro` binary: everything lives in the library.

fn main() {
    maestro::allocator::return_freed_memory_sooner();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == maestro::exec::guardian::GUARDIAN_ARG) {
        std::process::exit(maestro::exec::guardian::run_guardian());
    }
    std::process::exit(maestro::app::main(args));
}

/// See Cargo.toml for why not the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
