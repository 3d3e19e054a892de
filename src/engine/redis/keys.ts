/** Redis names of one topic under the deployment's key prefix. Names cannot contain U+0000, so
 * joining with it is unambiguous; the `t:` namespace keeps topics apart from cache data (`c:`). */
export const TOPIC_NAMESPACE = 't:';

export class TopicKeys {
  /** HASH { page, seq }. */
  readonly topic: string;
  /** LIST of the newest messages (topics.windowItems of them). */
  readonly recent: string;
  /** The deployment's last page handed out; one key, without TTL. */
  readonly lastPage: string;
  /** The pub/sub channel every node with local subscribers listens on. */
  readonly channel: string;

  constructor(prefix: string, cache: string, topic: string) {
    this.topic = `${prefix}${TOPIC_NAMESPACE}${cache}\u0000${topic}`;
    this.recent = `${this.topic}\u0000s`;
    this.lastPage = `${prefix}${TOPIC_NAMESPACE}\u0000lastpage`;
    this.channel = this.topic;
  }
}
