//! [`PgStore`] behind the store boundary: every trait method calls the inherent method of the same name, and
//! every write runs in a savepoint of its own, because a failed statement aborts a whole PostgreSQL
//! transaction (on SQLite it does not): a refused write is undone alone and the job goes on, as it would on
//! SQLite.

use portico_store::signature_types::*;

use crate::PgStore;

/// Implements the boundary for [`PgStore`] from the method list in `portico_store::with_store_methods!`.
macro_rules! pg_store_traits {
    (
        read { $(#[$rdoc:meta])* pub trait ReadStore { $($(#[$rm:meta])* fn $rf:ident(&self $(, $ra:ident: $rt:ty)* $(,)?) -> $rr:ty;)* } }
        write { $(#[$wdoc:meta])* pub trait WriteStore: ReadStore { $($(#[$wm:meta])* fn $wf:ident(&mut self $(, $wa:ident: $wt:ty)* $(,)?) -> $wr:ty;)* } }
    ) => {
        // A missing inherent method would make the call below the trait method itself: refuse to compile.
        #[deny(unconditional_recursion)]
        impl portico_store::ReadStore for PgStore { $($(#[$rm])* fn $rf(&self $(, $ra: $rt)*) -> $rr { PgStore::$rf(self $(, $ra)*) })* }
        #[deny(unconditional_recursion)]
        impl portico_store::WriteStore for PgStore {
            $($(#[$wm])* fn $wf(&mut self $(, $wa: $wt)*) -> $wr {
                self.unit(stringify!($wf), |s| PgStore::$wf(s $(, $wa)*))
            })*
        }
    };
}

portico_store::with_store_methods!((pg_store_traits));

/// The savepoint each write runs in (distinct from `atomically`'s, whose name callers pair themselves).
const WRITE_UNIT: &str = "w";

impl PgStore {
    /// Runs one write method in a savepoint of its own; the unit methods themselves run bare.
    fn unit<T>(&mut self, method: &str, f: impl FnOnce(&mut PgStore) -> Result<T>) -> Result<T> {
        if matches!(method, "savepoint" | "release" | "rollback_to") {
            return f(self);
        }
        if !self.in_tx.get() {
            // No transaction open (a connection used on its own): the write is one.
            self.begin()?;
            return match f(self) {
                Ok(v) => self.commit().map(|()| v),
                Err(e) => {
                    let _ = self.rollback();
                    Err(e)
                }
            };
        }
        self.batch(&format!("SAVEPOINT {WRITE_UNIT}"))?;
        match f(self) {
            Ok(v) => {
                self.batch(&format!("RELEASE {WRITE_UNIT}"))?;
                Ok(v)
            }
            Err(e) => {
                // The write's own error is the one worth reporting; a failed rollback surfaces at commit.
                let _ = self.batch(&format!("ROLLBACK TO {WRITE_UNIT}; RELEASE {WRITE_UNIT}"));
                Err(e)
            }
        }
    }

    /// Opens a nested unit of work (PostgreSQL, like SQLite, nests savepoints of one name); outside any
    /// transaction, the outermost unit is one.
    pub fn savepoint(&mut self) -> Result<()> {
        let (depth, owner) = self.units.get();
        if self.in_tx.get() {
            self.batch("SAVEPOINT atomically")?;
            self.units.set((depth + 1, owner));
        } else {
            self.begin()?;
            self.units.set((depth + 1, Some(depth + 1)));
        }
        Ok(())
    }

    /// Ends the innermost unit, keeping what it wrote.
    pub fn release(&mut self) -> Result<()> {
        let (depth, owner) = self.units.get();
        self.units.set((depth.saturating_sub(1), owner.filter(|o| *o < depth)));
        if owner == Some(depth) {
            self.commit()
        } else {
            self.batch("RELEASE atomically")
        }
    }

    /// Ends the innermost unit, undoing what it wrote.
    pub fn rollback_to(&mut self) -> Result<()> {
        let (depth, owner) = self.units.get();
        self.units.set((depth.saturating_sub(1), owner.filter(|o| *o < depth)));
        if owner == Some(depth) {
            self.rollback()
        } else {
            self.batch("ROLLBACK TO atomically; RELEASE atomically")
        }
    }
}
