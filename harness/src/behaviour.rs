//! A scenario's sections turned into what acts on them: the simulated
//! parties' and the core's configurations, the load drivers' schedules and
//! the checker's SLA. The scenario crate holds the format only; this module
//! is where it meets the code.

use std::time::Duration;

use integration_core::CoreConfig;
use scenario::{
    InventorySection, InvoicingSection, Load, OutboundLoad, Sla, SupplierBehaviour, WmsBehaviour,
};
use simulators::supplier::{InvoicingBehaviour, SupplierChanges, SupplierConfig, SupplierSim};
use simulators::wms::{InventoryBehaviour, Receiving, WmsConfig, WmsSim};

use crate::load::Schedule;

/// When each PO release is due.
pub fn load_schedule(load: &Load) -> Schedule {
    Schedule::ramped(load.arrival_rate_per_s.0, load.ramp.clone())
}

/// When each sales-order release is due.
pub fn outbound_schedule(outbound: &OutboundLoad) -> Schedule {
    Schedule::ramped(outbound.arrival_rate_per_s.0, outbound.ramp.clone())
}

/// The simulator's view of the acknowledgement and ASN changes configured.
pub fn supplier_changes(b: &SupplierBehaviour) -> SupplierChanges {
    SupplierChanges {
        rejected_probability: b.rejected_probability.0,
        backordered_probability: b.backordered_probability.0,
        quantity_changed_probability: b.quantity_changed_probability.0,
        date_rescheduled_probability: b.date_rescheduled_probability.0,
        replace_probability: b.replace_probability.0,
        cancel_probability: b.cancel_probability.0,
        change_pct: b.change_pct,
    }
}

/// The simulated supplier's configuration: this behaviour, calling the
/// core at `core_url`, its decisions drawn from `seed`.
pub fn supplier_config(b: &SupplierBehaviour, core_url: &str, seed: u64) -> SupplierConfig {
    SupplierConfig {
        core_url: core_url.to_owned(),
        seed,
        ack_delay: Duration::from_millis(b.ack_delay_ms),
        asn_delay: Duration::from_millis(b.asn_delay_ms),
        asn_copies: (b.asn_copies.min, b.asn_copies.max),
        concurrent_copies: b.concurrent_copies,
    }
}

/// The simulated WMS's configuration: this behaviour, calling the core at
/// `core_url`, its receiving decisions drawn from `seed`.
pub fn wms_config(b: &WmsBehaviour, core_url: &str, seed: u64) -> WmsConfig {
    WmsConfig {
        core_url: core_url.to_owned(),
        receipt_delay: Duration::from_millis(b.receipt_delay_ms),
        receiving: Receiving {
            short_probability: b.short_probability.0,
            over_probability: b.over_probability.0,
            damaged_probability: b.damaged_probability.0,
            variance_pct: b.variance_pct,
            correction_probability: b.correction_probability.0,
            wrong_item_probability: b.wrong_item_probability.0,
            not_advised_probability: b.not_advised_probability.0,
        },
        seed,
    }
}

/// The supplier's side of `[invoicing]`.
pub fn invoicing_behaviour(i: &InvoicingSection) -> InvoicingBehaviour {
    InvoicingBehaviour {
        enabled: true,
        delay: Duration::from_millis(i.delay_ms),
        price_variance_probability: i.price_variance_probability.0,
        quantity_variance_probability: i.quantity_variance_probability.0,
        variance_pct: i.variance_pct,
    }
}

/// The WMS's side of `[inventory]`.
pub fn inventory_behaviour(i: &InventorySection) -> InventoryBehaviour {
    InventoryBehaviour {
        adjustment_probability: i.adjustment_probability.0,
        forget_probability: i.forget_probability.0,
        adjustment_delay: Duration::from_millis(i.adjustment_delay_ms),
        max_delta: i.max_delta,
    }
}

/// The parties' side of `[invoicing]` and `[inventory]`.
pub fn configure_parties(
    invoicing: Option<&InvoicingSection>,
    inventory: Option<&InventorySection>,
    supplier: &SupplierSim,
    wms: &WmsSim,
) {
    if let Some(i) = invoicing {
        supplier.set_invoicing(invoicing_behaviour(i));
    }
    if let Some(i) = inventory {
        wms.set_inventory(inventory_behaviour(i));
    }
}

/// The core's side of `[invoicing]`.
pub fn configure_core(invoicing: Option<&InvoicingSection>, config: &mut CoreConfig) {
    if let Some(i) = invoicing {
        config.invoicing.price_tolerance_pct = i.price_tolerance_pct;
    }
}

/// The checker's SLA from the scenario's `[sla]`.
pub fn sla(s: &Sla) -> checker::sla::Sla {
    let bounds = |b: &Option<scenario::Bounds>| {
        b.as_ref().map(|b| checker::sla::Bounds {
            p50_ms: b.p50_ms.map(|v| v.0),
            p95_ms: b.p95_ms.map(|v| v.0),
            p99_ms: b.p99_ms.map(|v| v.0),
            max_ms: b.max_ms.map(|v| v.0),
            error_rate: b.error_rate.map(|v| v.0),
        })
    };
    checker::sla::Sla {
        asn_to_expectation_p99_ms: s.asn_to_expectation_p99_ms.map(|v| v.0),
        recovery_s: s.recovery_s.0,
        po_release: bounds(&s.po_release),
        asn_to_expectation: bounds(&s.asn_to_expectation),
        receipt_to_posting: bounds(&s.receipt_to_posting),
        order_release: bounds(&s.order_release),
        release_to_decision: bounds(&s.release_to_decision),
        ship_confirmation_to_posting: bounds(&s.ship_confirmation_to_posting),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sla_reaches_the_checker_bound_for_bound() {
        let text = "name = \"n\"\n[load]\npurchase_orders = 1\nlines_per_po = { min = 1, max = 1 }\n\
                    arrival_rate_per_s = 1\ntime_bound_s = 5\n[sla]\nrecovery_s = 4\n\
                    asn_to_expectation_p99_ms = 800\n[sla.receipt_to_posting]\np50_ms = 10\n\
                    p95_ms = 20\np99_ms = 30\nmax_ms = 40\nerror_rate = 0.5\n";
        let s = scenario::Scenario::parse(std::path::Path::new("s.toml"), text).unwrap();
        let sla = sla(&s.sla);
        assert_eq!(sla.recovery_s, 4.0);
        assert_eq!(sla.asn_to_expectation_p99_ms, Some(800.0));
        assert_eq!(
            sla.receipt_to_posting,
            Some(checker::sla::Bounds {
                p50_ms: Some(10.0),
                p95_ms: Some(20.0),
                p99_ms: Some(30.0),
                max_ms: Some(40.0),
                error_rate: Some(0.5),
            })
        );
        assert_eq!(sla.po_release, None);
    }

    #[test]
    fn a_scenario_ramp_is_the_drivers_schedule() {
        let text = "name = \"n\"\n[load]\npurchase_orders = 400\nlines_per_po = { min = 1, max = 1 }\n\
                    arrival_rate_per_s = 50\nramp = [{ to_per_s = 200, over_s = 2 }, { to_per_s = 0, over_s = 1.5 }]\n\
                    time_bound_s = 5\n[outbound]\norders = 5\nlines_per_order = { min = 1, max = 1 }\n\
                    arrival_rate_per_s = 10\nramp = [{ to_per_s = 30, over_s = 2 }]\n";
        let s = scenario::Scenario::parse(std::path::Path::new("s.toml"), text).unwrap();
        let schedule = load_schedule(s.load.as_ref().unwrap());
        assert!((schedule.rate_at(1.0) - 125.0).abs() < 1e-9);
        // (50+200)/2*2 + 200/2*1.5 = 400 releases, then the rate is 0.
        assert_eq!(schedule.offsets().count(), 400);
        let outbound = outbound_schedule(s.outbound.as_ref().unwrap());
        assert!((outbound.rate_at(1.0) - 20.0).abs() < 1e-9);
    }
}
