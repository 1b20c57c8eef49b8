//! `[vars]`: values a flow names in its text (`{prior_rate}`), each a
//! string, a number, a boolean or a list of strings.

use super::Checker;
use crate::flow::doc::{Node, Value};
use crate::flow::{Spanned, Var, is_var_name};

impl Checker {
    /// The `[vars]` table.
    pub(super) fn vars(&mut self, value: &Node<'_>) -> Vec<Var> {
        let Value::Table(table) = &value.value else {
            let message =
                format!("'vars' must be a table of name = value, not {}", value.value.a());
            self.error_with_hint(
                message,
                value.span.clone(),
                "write [vars] and then rate = \"0.01\"",
            );
            return Vec::new();
        };
        let mut vars = Vec::new();
        for (key, value) in table {
            let name: &str = &key.name;
            if !is_var_name(name) {
                let message = format!(
                    "invalid variable name '{name}': use letters, digits and '_', not first a digit"
                );
                self.error(message, key.span.clone());
                continue;
            }
            if crate::flow::OWN_NAMES.contains(&name) {
                let message = format!("'{name}' is maestro's own name in a task's text");
                self.error_with_hint(message, key.span.clone(), "name the variable otherwise");
                continue;
            }
            let (values, is_list) = match &value.value {
                Value::Array(_) => {
                    let items = self.strings(value, name);
                    (items.into_iter().map(|item| item.value).collect(), true)
                }
                Value::String(text) => (vec![text.to_string()], false),
                Value::Integer(int) => {
                    (vec![int.value().map_or_else(|| int.text(), |n| n.to_string())], false)
                }
                Value::Float(float) => (vec![float.to_string()], false),
                Value::Boolean(b) => (vec![b.to_string()], false),
                other => {
                    let message = format!(
                        "variable '{name}' must be a string, number, boolean or list of strings, not {}",
                        other.a()
                    );
                    self.error(message, value.span.clone());
                    continue;
                }
            };
            if values.iter().any(|value| value.contains('\0')) {
                self.error(format!("variable '{name}' contains a NUL byte"), value.span.clone());
                continue;
            }
            vars.push(Var {
                name: Spanned::new(name.to_string(), key.span.clone()),
                values,
                is_list,
            });
        }
        vars
    }
}
