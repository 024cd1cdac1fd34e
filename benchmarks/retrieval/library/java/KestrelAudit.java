package dev.vexilo.audit;

/** Kestrel audit trail: append-only records of who touched which slip. */
public class KestrelAudit {
    /** Record that an operator viewed a slip. */
    public void noteSlipViewed(String operatorId, String slipId) { }

    /** Export the audit trail of one day as signed JSON lines. */
    public String exportSignedDay(String isoDate) { return isoDate; }
}
