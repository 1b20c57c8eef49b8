//! `maestro completions` and `maestro man`: generated from the command
//! line's own definition, so they list exactly what maestro accepts.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionShell, CompletionsArgs, ManArgs};
use crate::error::{Error, Result};
use crate::exit_code;

/// `maestro completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> Result<i32> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "maestro", &mut script);
    write_stdout(&script)
}

/// `maestro man [COMMAND]`.
pub fn man(args: &ManArgs) -> Result<i32> {
    let mut command = Cli::command();
    command.build();
    let page = match &args.command {
        None => command,
        Some(name) => {
            let Some(sub) = command.find_subcommand(name).cloned() else {
                let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
                return Err(Error::usage_hint(
                    format!("no command '{name}'"),
                    format!("one of: {}", names.join(", ")),
                ));
            };
            // maestro-run(1), as git-commit(1).
            let title = format!("maestro-{}", sub.get_name());
            sub.name(title)
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Error::io("cannot write", "the man page", e))?;
    write_stdout(&roff)
}

fn write_stdout(bytes: &[u8]) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write", "stdout", e))?;
    Ok(exit_code::SUCCESS)
}
