//! `walklist …`: importing a street list, listing walk lists and showing one in walking order.
//! (`walklist delete` goes through the team, in [`super::team`]; `door mark` is one call.)

use groundwork::error::{Error, Result};
use groundwork::store::Store;
use groundwork::walk::import;

use super::args::WalklistCommand;
use super::print_json;

/// Run a `walklist` command that needs only the notebook.
pub fn walklist(store: &mut Store, command: WalklistCommand) -> Result<()> {
    match command {
        WalklistCommand::Import {
            name,
            csv,
            map,
            preview,
        } => {
            let mapping = map
                .iter()
                .map(|m| import::parse_mapping(m))
                .collect::<Result<Vec<_>, _>>()?;
            let bytes = std::fs::read(&csv).map_err(|source| Error::ReadFile {
                path: csv.clone(),
                source,
            })?;
            let imported = import::read(&bytes, &mapping)?;
            if preview {
                return print_json(&serde_json::json!({
                    "columns": imported.mapping.columns,
                    "rows": imported.rows,
                    "doors": imported.doors.len(),
                    "residents": imported.doors.iter().map(|d| d.residents.len()).sum::<usize>(),
                    "repeated": imported.repeated,
                    "first_doors": imported.doors.iter().take(5).map(|d| serde_json::json!({
                        "line": d.line,
                        "address": groundwork::store::walklists::address_line(d),
                        "residents": d.residents,
                    })).collect::<Vec<_>>(),
                }));
            }
            let source = csv.file_name().map(|f| f.to_string_lossy().into_owned());
            print_json(&store.import_walklist(&name, source.as_deref(), &imported)?)
        }
        WalklistCommand::List => print_json(&store.walklists()?),
        WalklistCommand::Show { id } => print_json(&store.walklist(&id)?),
        // Handled by `super::run`: it can fail with sync errors too.
        WalklistCommand::Delete { .. } => Ok(()),
    }
}
