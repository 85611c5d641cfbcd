//! Command-line flags generated from a record kind's declaration (see
//! `groundwork::fields`): `--phone X` puts a value (an empty one clears it), `--tag T` and
//! `--language L` add to a set (repeatable) and, on `edit`, `--untag T` and `--unlanguage L`
//! remove; `--consent C` / `--withdraw-consent C`; `--do-not-contact` / `--allow-contact`.
//! The flags become one [`Patch`], checked and written by the store like any other.

use std::marker::PhantomData;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use groundwork::fields::{FieldName, Patch, Type, Value};
use groundwork::model::ConsentChannel;

/// The flags of every editable field of `F`; `EDIT` adds the flags that remove or clear
/// (on `edit`), and makes required fields optional.
#[derive(Debug, Clone)]
pub struct RecordFlags<F: FieldName, const EDIT: bool> {
    /// What the flags asked for.
    pub patch: Patch<F>,
    kind: PhantomData<F>,
}

fn help<F: FieldName>(f: F, removing: bool) -> String {
    let spec = f.spec();
    let label = spec.label.to_lowercase();
    match (spec.ty, removing) {
        (Type::Set, false) => format!("Add one of the {label} (repeatable)"),
        (Type::Set, true) => format!("Remove one of the {label} (repeatable)"),
        (Type::Consent, false) => format!(
            "A channel the person consents to be contacted by, given now (repeatable): {}",
            ConsentChannel::NAMES.join(", ")
        ),
        (Type::Consent, true) => "Withdraw consent for a channel (repeatable)".to_string(),
        (Type::Flag, false) => spec.label.to_string(),
        (Type::Flag, true) => format!("Clear: {label}"),
        (Type::Date, _) => format!("{} (YYYY-MM-DD; an empty value clears it)", spec.label),
        _ if spec.required => spec.label.to_string(),
        _ => format!("{} (an empty value clears it)", spec.label),
    }
}

impl<F: FieldName, const EDIT: bool> Args for RecordFlags<F, EDIT> {
    fn augment_args(mut cmd: Command) -> Command {
        for f in F::ALL.iter().copied() {
            let spec = f.spec();
            let (true, Some(flag)) = (spec.edit, spec.flag) else {
                continue;
            };
            let arg = Arg::new(flag).long(flag).help(help(f, false));
            cmd = cmd.arg(match spec.ty {
                Type::Flag => arg.action(ArgAction::SetTrue),
                Type::Set | Type::Consent => arg.action(ArgAction::Append),
                _ => arg.action(ArgAction::Set).required(spec.required && !EDIT),
            });
            if let (true, Some(unflag)) = (EDIT, spec.unflag) {
                let arg = Arg::new(unflag).long(unflag).help(help(f, true));
                cmd = cmd.arg(match spec.ty {
                    Type::Flag => arg.action(ArgAction::SetTrue).conflicts_with(flag),
                    _ => arg.action(ArgAction::Append),
                });
            }
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<F: FieldName, const EDIT: bool> FromArgMatches for RecordFlags<F, EDIT> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut patch = Patch::new();
        let many = |id: &str| -> Vec<String> {
            m.get_many::<String>(id)
                .map(|v| v.cloned().collect())
                .unwrap_or_default()
        };
        for f in F::ALL.iter().copied() {
            let spec = f.spec();
            let (true, Some(flag)) = (spec.edit, spec.flag) else {
                continue;
            };
            let unflag = spec.unflag.filter(|_| EDIT);
            match spec.ty {
                Type::Flag => {
                    if m.get_flag(flag) {
                        patch = patch.put(f, Value::Flag(true));
                    } else if !EDIT || unflag.is_some_and(|u| m.get_flag(u)) {
                        patch = patch.put(f, Value::Flag(false));
                    }
                }
                Type::Set | Type::Consent => {
                    patch = patch.add(f, many(flag));
                    if let Some(u) = unflag {
                        patch = patch.remove(f, many(u));
                    }
                }
                _ => {
                    if let Some(v) = m.get_one::<String>(flag) {
                        patch = patch.put(f, v.as_str());
                    }
                }
            }
        }
        Ok(RecordFlags {
            patch,
            kind: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}
