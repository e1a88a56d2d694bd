//! Lowering one comparison: resolve its field (and a `val()` or
//! transformed field on the right), apply the transformers' result types,
//! and build the prepared [`Test`]. A transformed side wraps the test in
//! [`Test::Xform`] so untransformed checks keep their fast paths (and the
//! type index and candidate split, which only read plain checks).

use crate::error::{DiagKind, Diagnostic};
use crate::expr::{Check, Expr, Mode, Test, NO_SLOT};
use crate::field::FieldType;
use crate::parse::{Op, Rhs, Span, Xform};

use super::{Compiler, RuleCtx};

impl Compiler<'_> {
    pub(super) fn lower_check(
        &mut self,
        (field, arg, xf): (&str, Option<&str>, &[Xform]),
        span: Span,
        op: Op,
        op_span: Span,
        rhs: &Rhs,
        ctx: &mut RuleCtx,
    ) -> Option<Expr> {
        let (f, ty) = match self.resolve(field, arg, span, ctx) {
            Ok(x) => x,
            Err(placeholder) => return placeholder,
        };
        let xf_key: String = xf.iter().map(|x| format!("{}(", x.name())).collect();
        let ty = match self.xform_type(ty, xf, field, span) {
            Ok(t) => t,
            Err(d) => {
                ctx.errors.push(d);
                return None;
            }
        };
        let result = if let Rhs::Field {
            field: other,
            arg: oarg,
            span: ospan,
            xf: oxf,
        } = rhs
        {
            let (g, gty) = match self.resolve(other, oarg.as_deref(), *ospan, ctx) {
                Ok(x) => x,
                Err(placeholder) => return placeholder,
            };
            let gty = match self.xform_type(gty, oxf, other, *ospan) {
                Ok(t) => t,
                Err(d) => {
                    ctx.errors.push(d);
                    return None;
                }
            };
            let oxf_key: String = oxf.iter().map(|x| format!("{}(", x.name())).collect();
            let key = self.key(format!(
                "{xf_key}{}\u{1f}{op}\u{1f}val({oxf_key}{})",
                f.name(),
                g.name()
            ));
            self.field_cmp(&f, ty, op, op_span, g, gty, oxf)
                .map(|test| (Mode::Scalar, test, key))
        } else {
            let vals = self.rhs_values(rhs);
            let mut key = format!("{xf_key}{}\u{1f}{op}", f.name());
            for v in &vals {
                key.push('\u{1f}');
                key.push_str(&v.text);
            }
            let key = self.key(key);
            self.test(&f, ty, op, op_span, &vals)
                .map(|(mode, test)| (mode, test, key))
        };
        match result {
            Ok((mode, test, key)) => {
                let test = if xf.is_empty() || op == Op::Exists {
                    test
                } else {
                    Test::Xform {
                        xf: xf.into(),
                        inner: Box::new(test),
                    }
                };
                Some(Expr::Check(Box::new(Check {
                    field: f,
                    mode,
                    test,
                    key,
                    slot: NO_SLOT,
                })))
            }
            Err(d) => {
                ctx.errors.push(d);
                None
            }
        }
    }

    /// The type of `ty` after the transformers (innermost first): text
    /// transformers need text, `len` makes a number.
    fn xform_type(
        &self,
        mut ty: FieldType,
        xf: &[Xform],
        field: &str,
        span: Span,
    ) -> Result<FieldType, Diagnostic> {
        for x in xf {
            if !matches!(ty, FieldType::Str | FieldType::Dyn | FieldType::StrList) {
                return Err(self.diag(
                    span,
                    DiagKind::Type,
                    format!(
                        "type error: transformer '{}' cannot be applied to {ty} field '{field}'",
                        x.name()
                    ),
                ));
            }
            if *x == Xform::Len {
                ty = FieldType::Num;
            }
        }
        Ok(ty)
    }
}
